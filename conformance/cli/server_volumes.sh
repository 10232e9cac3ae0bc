#!/usr/bin/env bash
# Servers and volumes (Nova with Cinder) through the real `openstack` CLI. Run by
# conformance/cli/run. Semantics are those of the real Nova and Cinder: a volume is attached
# to a running server, seen from both services, detached; a server boots from a volume made
# from an image, and deleting it frees the volume.
SCENARIO=server_volumes
# shellcheck source=conformance/cli/lib.sh
. "${CONFORMANCE_LIB:-$(dirname "$0")/lib.sh}"

P="cli-$RUN_ID"
export P
WORK=$(mktemp -d)
defer rm -rf "$WORK"
WAIT_S=120

# wait_volume VOLUME STATUS: polls `openstack volume show` until STATUS (60 s).
wait_volume() {
  local i got=""
  for i in $(seq 1 60); do
    got=$(openstack volume show "$1" -f value -c status 2>/dev/null)
    [ "$got" = "$2" ] && return 0
    sleep 1
  done
  echo "volume $1: status ${got:-<none>}, wanted $2" >&2
  return 1
}

# ------------------------------------------------------------------ a server to attach to
FL="$P-small"
ok "flavor create" openstack flavor create --ram 256 --vcpus 1 --disk 1 "$FL" -f json
FLID=$(jget id)
defer openstack flavor delete "$FLID"
N="$P-net"
ok "network create" openstack network create "$N" -f json
NID=$(jget id)
defer openstack network delete "$NID"
ok "subnet create" openstack subnet create --network "$NID" --subnet-range 10.79.0.0/24 "$P-sub" -f json
SUBID=$(jget id)
defer openstack subnet delete "$SUBID"
head -c 1048576 /dev/zero >"$WORK/disk.raw"
ok "image create (1 MiB raw)" \
  openstack image create --disk-format raw --container-format bare --file "$WORK/disk.raw" "$P-image" -f json
IID=$(jget id)
export IID
defer openstack image delete "$IID"
S="$P-vm"
ok "server create --wait" \
  timeout "$WAIT_S" openstack server create --image "$IID" --flavor "$FL" --network "$N" --wait "$S" -f json
SID=$(jget id)
export SID
defer timeout "$WAIT_S" openstack server delete --wait "$SID"

# ------------------------------------------------------------------ attach and detach
V="$P-data"
ok "volume create" openstack volume create --size 1 "$V" -f json
VID=$(jget id)
export VID
defer openstack volume delete "$VID"
ok "the volume becomes available" wait_volume "$VID" available
ok "server add volume" openstack server add volume "$SID" "$VID"
expect_json "volume show: in-use, attached to the server" \
  'd["status"] == "in-use" and any(a["server_id"] == E["SID"] for a in d["attachments"])' \
  openstack volume show "$VID" -f json
expect_json "server volume list: the volume on /dev/vdb" \
  'any(r["Volume ID"] == E["VID"] and r["Device"] == "/dev/vdb" for r in d)' \
  openstack server volume list "$SID" -f json
expect_json "server show: volumes_attached lists the volume" \
  'E["VID"] in str(d["volumes_attached"])' \
  openstack server show "$SID" -f json
expect_fail "the attached volume cannot be deleted" openstack volume delete "$VID"
expect_fail "the attached volume cannot be attached again" openstack server add volume "$SID" "$VID"
ok "server remove volume" openstack server remove volume "$SID" "$VID"
ok "the detached volume is available again" wait_volume "$VID" available
expect_json "server volume list after remove volume: empty" 'd == []' \
  openstack server volume list "$SID" -f json

# ------------------------------------------------------------------ boot from volume
BV="$P-boot"
ok "volume create --image (bootable)" openstack volume create --size 1 --image "$IID" "$BV" -f json
BVID=$(jget id)
export BVID
defer openstack volume delete "$BVID"
ok "the boot volume becomes available" wait_volume "$BVID" available
expect_json "volume show: bootable" 'd["bootable"] in (True, "true")' openstack volume show "$BVID" -f json
BS="$P-bfv"
ok "server create --volume --wait" \
  timeout "$WAIT_S" openstack server create --volume "$BVID" --flavor "$FL" --network "$N" --wait "$BS" -f json
BSID=$(jget id)
export BSID
expect_json "server show: ACTIVE, booted from the volume (no image)" \
  'd["status"] == "ACTIVE" and E["IID"] not in str(d["image"]) and E["BVID"] in str(d["volumes_attached"])' \
  openstack server show "$BSID" -f json
expect_json "the boot volume is in use by the server" \
  'd["status"] == "in-use" and any(a["server_id"] == E["BSID"] and a["device"] == "/dev/vda" for a in d["attachments"])' \
  openstack volume show "$BVID" -f json
expect_fail "the root volume cannot be detached" openstack server remove volume "$BSID" "$BVID"
ok "server delete --wait (volume-backed)" timeout "$WAIT_S" openstack server delete --wait "$BSID"
ok "the boot volume is available again (not deleted on termination)" wait_volume "$BVID" available

finish
