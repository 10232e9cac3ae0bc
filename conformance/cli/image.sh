#!/usr/bin/env bash
# Image (Glance v2) through the real `openstack` CLI. Run by conformance/cli/run.
# Semantics are those of the real Glance: every expectation below holds against it.
SCENARIO=image
# shellcheck source=conformance/cli/lib.sh
. "${CONFORMANCE_LIB:-$(dirname "$0")/lib.sh}"

P="cli-$RUN_ID"
export P
WORK=$(mktemp -d)
defer rm -rf "$WORK"

# ------------------------------------------------------------------ a small qcow2 image
SRC="$WORK/src.qcow2"
if command -v qemu-img >/dev/null; then
  qemu-img create -q -f qcow2 "$SRC" 64M
else
  # The qcow2 v3 header is all a 64 MiB empty image needs to be recognised.
  "$PY" -c '
import struct, sys
h = b"QFI\xfb" + struct.pack(">IQIIQ", 3, 0, 0, 16, 64 << 20)
open(sys.argv[1], "wb").write(h.ljust(196608, b"\0"))' "$SRC"
fi
# some non-zero payload after the header so the round trip checks real bytes
head -c 300000 /dev/urandom >>"$SRC"
SRC_SIZE=$(stat -c %s "$SRC")
SRC_MD5=$(md5sum "$SRC" | cut -d' ' -f1)
SRC_SHA512=$(sha512sum "$SRC" | cut -d' ' -f1)
export SRC_SIZE SRC_MD5 SRC_SHA512

# ------------------------------------------------------------------ create with data
IMG="$P-img"; export IMG
expect_json "image create --file --disk-format qcow2 --container-format bare: active, checksums, sizes" \
  'd["name"] == E["IMG"] and d["status"] == "active" and d["disk_format"] == "qcow2" and d["container_format"] == "bare" and int(d["size"]) == int(E["SRC_SIZE"]) and d["checksum"] == E["SRC_MD5"] and int(d["virtual_size"]) == 64 * 1024 * 1024' \
  openstack image create --file "$SRC" --disk-format qcow2 --container-format bare "$IMG" -f json
IMG_ID=$(jget id)
export IMG_ID
defer openstack image delete "${IMG_ID:-$IMG}"
expect_has "image list shows it" "$IMG" openstack image list -f value -c Name
expect_has "image list --name" "$IMG_ID" openstack image list --name "$IMG" -f value -c ID
ok "the admin's project id" openstack token issue -f value -c project_id && ADMIN_PID=$OUT
export ADMIN_PID=${ADMIN_PID:-}
expect_json "image show: owner is the project, sha512 hash, shared by default" \
  'd["id"] == E["IMG_ID"] and d["owner"] == E["ADMIN_PID"] and {**(d.get("properties") or {}), **d}.get("os_hash_algo") == "sha512" and {**(d.get("properties") or {}), **d}.get("os_hash_value") == E["SRC_SHA512"] and d["visibility"] == "shared" and d["protected"] is False' \
  openstack image show "$IMG" -f json

# ------------------------------------------------------------------ metadata
ok "image set --property --tag" openstack image set --property os_distro=cirros --property "cli_key=cli value" --tag cli-tag "$IMG_ID"
expect_json "image show after set: properties and tag" \
  '(d.get("properties") or {}).get("os_distro") == "cirros" and (d.get("properties") or {}).get("cli_key") == "cli value" and "cli-tag" in d["tags"]' \
  openstack image show "$IMG_ID" -f json
expect_has "image list --tag" "$IMG" openstack image list --tag cli-tag -f value -c Name
ok "image unset --property --tag" openstack image unset --property cli_key --tag cli-tag "$IMG_ID"
expect_json "image show after unset" \
  '"cli_key" not in (d.get("properties") or {}) and "cli-tag" not in d["tags"] and (d.get("properties") or {}).get("os_distro") == "cirros"' \
  openstack image show "$IMG_ID" -f json
ok "image set --name --min-disk --min-ram" openstack image set --name "$IMG-renamed" --min-disk 1 --min-ram 64 "$IMG_ID"
expect_json "image show after rename" 'd["name"] == E["IMG"] + "-renamed" and int(d["min_disk"]) == 1 and int(d["min_ram"]) == 64' \
  openstack image show "$IMG_ID" -f json
ok "image set --name back" openstack image set --name "$IMG" "$IMG_ID"

# ------------------------------------------------------------------ download
OUTF="$WORK/out.qcow2"
ok "image save --file" openstack image save --file "$OUTF" "$IMG_ID"
expect_eq "the downloaded bytes equal the uploaded bytes" "$SRC_MD5" sh -c 'md5sum "$1" | cut -d" " -f1' _ "$OUTF"
ok "cmp uploaded and downloaded" cmp "$SRC" "$OUTF"

# ------------------------------------------------------------------ sharing with another project
SP="$P-share-proj"; SU="$P-share-user"; SPW="Pw-$RUN_ID"
ok "sharing: project" openstack project create --domain default "$SP" -f value -c id && SP_ID=$OUT
defer openstack project delete "${SP_ID:-$SP}"
ok "sharing: user" openstack user create --domain default --password "$SPW" "$SU" -f value -c id && SU_ID=$OUT
defer openstack user delete "${SU_ID:-$SU}"
ok "sharing: member role on the project" \
  openstack role add --project "$SP" --project-domain default --user "$SU" --user-domain default member
export SP_ID=${SP_ID:-}
as_sharer() {
  env -u OS_PROJECT_ID -u OS_USER_DOMAIN_ID -u OS_CLOUD -u OS_CLIENT_CONFIG_FILE \
    OS_USERNAME="$SU" OS_PASSWORD="$SPW" OS_PROJECT_NAME="$SP" \
    OS_PROJECT_DOMAIN_NAME=Default OS_USER_DOMAIN_NAME=Default "$@"
}
expect_fail "before sharing, the other project cannot see the image" as_sharer openstack image show "$IMG_ID"
expect_json "image add project: membership pending" \
  'd["member_id"] == E["SP_ID"] and d["status"] == "pending" and d["image_id"] == E["IMG_ID"]' \
  openstack image add project "$IMG_ID" "$SP_ID" -f json
expect_json "image member list (owner): the pending member" \
  '[(m["Member ID"], m["Status"]) for m in d] == [(E["SP_ID"], "pending")]' \
  openstack image member list "$IMG_ID" -f json
expect_lacks "a pending image is not in the member's default list" "$IMG_ID" \
  as_sharer openstack image list -f value -c ID
expect_eq "the member can show the image by id" "$IMG" as_sharer openstack image show "$IMG_ID" -f value -c name
ok "image set --accept (as the member)" as_sharer openstack image set --accept "$IMG_ID"
expect_json "image member list: accepted" \
  '[(m["Member ID"], m["Status"]) for m in d] == [(E["SP_ID"], "accepted")]' \
  openstack image member list "$IMG_ID" -f json
expect_has "an accepted image is in the member's list" "$IMG_ID" as_sharer openstack image list -f value -c ID
expect_has "image list --shared (as the member)" "$IMG_ID" as_sharer openstack image list --shared -f value -c ID
ok "the member downloads it" as_sharer openstack image save --file "$WORK/member.qcow2" "$IMG_ID"
ok "the member's copy is the same bytes" cmp "$SRC" "$WORK/member.qcow2"
expect_fail "the member cannot change the image" as_sharer openstack image set --name stolen "$IMG_ID"
ok "image remove project" openstack image remove project "$IMG_ID" "$SP_ID"
expect_fail "after removal the member cannot see it" as_sharer openstack image show "$IMG_ID"

# ------------------------------------------------------------------ deactivate / reactivate
ok "image set --deactivate" openstack image set --deactivate "$IMG_ID"
expect_eq "status deactivated" "deactivated" openstack image show "$IMG_ID" -f value -c status
ok "image set --activate" openstack image set --activate "$IMG_ID"
expect_eq "status active again" "active" openstack image show "$IMG_ID" -f value -c status

# ------------------------------------------------------------------ protection and delete
ok "image set --protected" openstack image set --protected "$IMG_ID"
expect_fail "a protected image cannot be deleted" openstack image delete "$IMG_ID"
ok "image set --unprotected" openstack image set --unprotected "$IMG_ID"
ok "image delete" openstack image delete "$IMG_ID"
expect_fail "image show after delete" openstack image show "$IMG_ID"
expect_lacks "image list after delete" "$IMG" openstack image list -f value -c Name

finish
