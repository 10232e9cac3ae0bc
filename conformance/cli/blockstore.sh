#!/usr/bin/env bash
# Block storage (Cinder v3) through the real `openstack` CLI. Run by conformance/cli/run.
# Semantics are those of the real Cinder: every expectation below holds against it.
SCENARIO=blockstore
# shellcheck source=conformance/cli/lib.sh
. "${CONFORMANCE_LIB:-$(dirname "$0")/lib.sh}"

P="cli-$RUN_ID"
export P

# wait_status KIND ID STATUS: polls `openstack KIND show` until STATUS (30 s).
wait_status() {
  local kind=$1 id=$2 want=$3 i got
  for i in $(seq 1 60); do
    # shellcheck disable=SC2086
    got=$(openstack $kind show "$id" -f value -c status 2>/dev/null)
    [ "$got" = "$want" ] && return 0
    sleep 0.5
  done
  echo "$kind $id: status $got, wanted $want" >&2
  return 1
}

# ------------------------------------------------------------------ volume types
T="$P-type"; export T
expect_json "volume type create with a property" \
  'd["name"] == E["T"] and d["properties"] in ({"color": "blue"}, "color=\x27blue\x27")' \
  openstack volume type create --property color=blue "$T" -f json
TID=$(jget id)
defer openstack volume type delete "$TID"
expect_has "volume type list" "$T" openstack volume type list -f value -c Name
expect_has "the default type is listed" "__DEFAULT__" openstack volume type list -f value -c Name

# ------------------------------------------------------------------ volumes
V="$P-vol"; export V
expect_json "volume create (1 GiB, with the type)" \
  'd["name"] == E["V"] and d["size"] == 1 and d["type"] == E["T"]' \
  openstack volume create --size 1 --type "$T" "$V" -f json
VID=$(jget id)
export VID
defer openstack volume delete --force "$VID"
ok "volume becomes available" wait_status volume "$VID" available
expect_has "volume list" "$V" openstack volume list -f value -c Name
expect_json "volume show" 'd["id"] == E["VID"] and d["status"] == "available" and d["bootable"] in (False, "false")' \
  openstack volume show "$VID" -f json
ok "volume set --name --description --property" \
  openstack volume set --name "$V-2" --description "cli volume" --property k=v "$VID"
expect_json "volume show after set" \
  'd["name"] == E["V"] + "-2" and d["description"] == "cli volume" and "k" in str(d["properties"])' \
  openstack volume show "$VID" -f json
ok "volume set --size 2 (extend)" openstack volume set --size 2 "$VID"
ok "volume is available after extend" wait_status volume "$VID" available
expect_eq "volume size after extend" "2" openstack volume show "$VID" -f value -c size
expect_fail "volume set --size 1 (shrinking is refused)" openstack volume set --size 1 "$VID"

# ------------------------------------------------------------------ volumes and images
WORK=$(mktemp -d)
defer rm -rf "$WORK"
head -c 3145728 /dev/urandom >"$WORK/disk.raw"
ok "image create (3 MiB raw)" \
  openstack image create --disk-format raw --container-format bare --file "$WORK/disk.raw" "$P-img" -f json
IMGID=$(jget id)
export IMGID
defer openstack image delete "$IMGID"
expect_json "volume create --image" 'd["size"] == 1' \
  openstack volume create --image "$IMGID" --size 1 "$V-from-image" -f json
V4ID=$(jget id)
defer openstack volume delete --force "$V4ID"
ok "volume from image becomes available" wait_status volume "$V4ID" available
expect_json "volume from image: bootable, with the image's metadata" \
  'd["bootable"] in (True, "true") and E["IMGID"] in str(d["volume_image_metadata"])' \
  openstack volume show "$V4ID" -f json
expect_json "image create --volume (upload to image)" 'd["image_name"] == E["P"] + "-up"' \
  openstack image create --volume "$V4ID" --disk-format raw --container-format bare "$P-up" -f json
UPID=$(jget image_id)
defer openstack image delete "$UPID"
ok "the uploaded image becomes active" sh -c "for i in \$(seq 60); do [ \"\$(openstack image show $UPID -f value -c status)\" = active ] && exit 0; sleep 1; done; exit 1"
ok "the volume is available again" wait_status volume "$V4ID" available
ok "image save (the uploaded image)" openstack image save --file "$WORK/up.raw" "$UPID"
ok "the image holds the volume's bytes: the source image's, then zeros to 1 GiB" \
  sh -c "[ \$(stat -c %s '$WORK/up.raw') = 1073741824 ] && cmp -n 3145728 '$WORK/disk.raw' '$WORK/up.raw' && [ -z \"\$(tail -c +3145729 '$WORK/up.raw' | tr -d '\\0' | head -c 1)\" ]"
ok "volume delete (from image)" openstack volume delete "$V4ID"

# ------------------------------------------------------------------ snapshots
S="$P-snap"; export S
expect_json "volume snapshot create" 'd["name"] == E["S"] and d["size"] == 2' \
  openstack volume snapshot create --volume "$VID" "$S" -f json
SID=$(jget id)
defer openstack volume snapshot delete "$SID"
ok "snapshot becomes available" wait_status "volume snapshot" "$SID" available
expect_has "volume snapshot list" "$S" openstack volume snapshot list -f value -c Name
expect_fail "a volume with snapshots cannot be deleted" openstack volume delete "$VID"

expect_json "volume create --snapshot" 'd["size"] == 2' \
  openstack volume create --snapshot "$SID" "$V-from-snap" -f json
V2ID=$(jget id)
defer openstack volume delete --force "$V2ID"
ok "volume from snapshot becomes available" wait_status volume "$V2ID" available
expect_json "volume create --source" 'd["size"] == 3' \
  openstack volume create --source "$VID" --size 3 "$V-clone" -f json
V3ID=$(jget id)
defer openstack volume delete --force "$V3ID"
ok "cloned volume becomes available" wait_status volume "$V3ID" available

ok "volume snapshot delete" openstack volume snapshot delete "$SID"
for i in $(seq 1 40); do
  openstack volume snapshot show "$SID" >/dev/null 2>&1 || break
  sleep 0.5
done
expect_lacks "volume snapshot list after delete" "$S" openstack volume snapshot list -f value -c Name
ok "volume delete (from snapshot)" openstack volume delete "$V2ID"
ok "volume delete (clone)" openstack volume delete "$V3ID"
ok "volume delete" openstack volume delete "$VID"
for i in $(seq 1 40); do
  openstack volume show "$VID" >/dev/null 2>&1 || break
  sleep 0.5
done
expect_fail "volume show after delete" openstack volume show "$VID"
expect_lacks "volume list after delete" "$V-2" openstack volume list -f value -c Name
ok "volume type delete" openstack volume type delete "$TID"
expect_lacks "volume type list after delete" "$T" openstack volume type list -f value -c Name

finish
