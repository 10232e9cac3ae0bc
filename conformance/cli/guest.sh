#!/usr/bin/env bash
# requires: qemu
# Real guests (Nova's libvirt driver's job: the qemu compute driver) through the real
# `openstack` CLI. Run by conformance/cli/run against a cloud of its own whose compute driver
# is qemu (TCG here), only where qemu-system-x86_64 is found. The test guest
# (scripts/test-guest: a Debian kernel and a busybox initramfs, our CirrOS) is uploaded as
# kernel, ramdisk and disk images; a server boots it, and every power action is checked
# against the real qemu process (its pid in the process table, QMP `query-status` on its
# socket), not against the database. A 1 GiB volume is hot-plugged into the running guest,
# which prints the disk and its size on its serial console, and unplugged again; a server
# boots from a volume made from the image. Deleting a server leaves no process, overlay or
# socket behind.
SCENARIO=guest
# shellcheck source=conformance/cli/lib.sh
. "${CONFORMANCE_LIB:-$(dirname "$0")/lib.sh}"

GUEST=${CONFORMANCE_GUEST_DIR:?run through conformance/cli/run (scripts/test-guest)}
INST=${CONFORMANCE_INSTANCES_DIR:?run through conformance/cli/run}
P="cli-$RUN_ID"
export P
WAIT_S=180
MARKER=OXSTACK-GUEST-READY

# wait_status SERVER STATUS: polls `openstack server show` until STATUS (90 s; each CLI call
# takes a second or two, so loops are bounded by time, not by count); gives up at once on ERROR.
wait_status() {
  local end=$((SECONDS + 90)) got=""
  while [ "$SECONDS" -lt "$end" ]; do
    got=$(openstack server show "$1" -f value -c status 2>/dev/null)
    [ "$got" = "$2" ] && return 0
    [ "$got" = ERROR ] && break
    sleep 1
  done
  echo "server $1: status ${got:-<none>}, wanted $2" >&2
  return 1
}

# wait_volume VOLUME STATUS: polls `openstack volume show` until STATUS (90 s).
wait_volume() {
  local end=$((SECONDS + 90)) got=""
  while [ "$SECONDS" -lt "$end" ]; do
    got=$(openstack volume show "$1" -f value -c status 2>/dev/null)
    [ "$got" = "$2" ] && return 0
    sleep 1
  done
  echo "volume $1: status ${got:-<none>}, wanted $2" >&2
  return 1
}

# console_wait SERVER REGEX [COUNT]: polls `openstack console log show` until COUNT (1) lines
# match the extended REGEX (120 s); prints the matching lines.
console_wait() {
  local end=$((SECONDS + 120)) log n=0
  while [ "$SECONDS" -lt "$end" ]; do
    log=$(openstack console log show "$1" 2>/dev/null)
    n=$(printf '%s\n' "$log" | grep -cE -- "$2")
    if [ "$n" -ge "${3:-1}" ]; then printf '%s\n' "$log" | grep -E -- "$2"; return 0; fi
    sleep 1
  done
  echo "console of $1: $n line(s) matching $2, wanted ${3:-1}; its tail:" >&2
  printf '%s\n' "$log" | tail -20 >&2
  return 1
}

# qemu_pid SERVER: the pid of the server's qemu from the process table: the pid file in
# its instance directory, alive (not a zombie) and running with that directory's QMP socket.
qemu_pid() {
  local pid state
  pid=$(cat "$INST/$1/qemu.pid" 2>/dev/null) || return 1
  state=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
  case "$state" in Z*) return 1 ;; esac
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$INST/$1/qmp.sock" || return 1
  echo "$pid"
}

# no_qemu SERVER: the server has no qemu process (polls 30 s: the agent stops it after the
# API answers).
no_qemu() {
  local end=$((SECONDS + 30))
  while [ "$SECONDS" -lt "$end" ]; do
    qemu_pid "$1" >/dev/null || return 0
    sleep 1
  done
  echo "server $1 still has qemu $(qemu_pid "$1")" >&2
  return 1
}

# qmp SERVER COMMAND: runs one QMP command on the server's socket, prints the `return` JSON.
qmp() {
  "$PY" - "$INST/$1/qmp.sock" "$2" <<'PYEOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()  # greeting
for cmd in ("qmp_capabilities", sys.argv[2]):
    f.write(json.dumps({"execute": cmd}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "event" not in r:
            break
    if "error" in r:
        sys.exit("QMP %s: %s" % (cmd, r["error"]))
print(json.dumps(r["return"]))
PYEOF
}

# qmp_status SERVER: QMP query-status of the server's qemu (`running`, `paused`, ...).
qmp_status() { qmp "$1" query-status | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }

# same_pid SERVER PID: the server's qemu is still process PID.
same_pid() { [ "$(qemu_pid "$1")" = "$2" ]; }
# other_pid SERVER PID: the server runs in a qemu process other than PID.
other_pid() { local p; p=$(qemu_pid "$1") && [ "$p" != "$2" ]; }

# ------------------------------------------------------------------ the guest's images
ok "image create (kernel, aki)" \
  openstack image create --disk-format aki --container-format aki --file "$GUEST/vmlinuz" "$P-kernel" -f json
KID=$(jget id)
defer openstack image delete "$KID"
ok "image create (ramdisk, ari)" \
  openstack image create --disk-format ari --container-format ari --file "$GUEST/initrd" "$P-ramdisk" -f json
RID=$(jget id)
defer openstack image delete "$RID"
ok "image create (disk, qcow2, with kernel_id and ramdisk_id)" \
  openstack image create --disk-format qcow2 --container-format bare --file "$GUEST/disk.qcow2" \
  --property kernel_id="$KID" --property ramdisk_id="$RID" --property os_command_line="console=ttyS0 quiet" \
  "$P-guest" -f json
IID=$(jget id)
export IID
defer openstack image delete "$IID"
expect_json "image show: active, kernel_id and ramdisk_id set" \
  'd["status"] == "active" and "kernel_id" in str(d["properties"])' openstack image show "$IID" -f json

FL="$P-tiny"
ok "flavor create" openstack flavor create --ram 128 --vcpus 1 --disk 1 "$FL" -f json
FLID=$(jget id)
defer openstack flavor delete "$FLID"
N="$P-net"
ok "network create" openstack network create "$N" -f json
NID=$(jget id)
defer openstack network delete "$NID"
ok "subnet create" openstack subnet create --network "$NID" --subnet-range 10.81.0.0/24 "$P-sub" -f json
SUBID=$(jget id)
defer openstack subnet delete "$SUBID"

# ------------------------------------------------------------------ boot
S="$P-vm"
export S
ok "server create --config-drive True --wait" \
  timeout "$WAIT_S" openstack server create --image "$IID" --flavor "$FL" --network "$N" \
  --config-drive True --wait "$S" -f json
SID=$(jget id)
export SID
[ -n "$SID" ] || finish  # nothing below can pass without the server
defer timeout "$WAIT_S" openstack server delete --wait "$SID"
expect_json "server show: ACTIVE on the QEMU hypervisor, power state Running" \
  'd["status"] == "ACTIVE" and str(d.get("OS-EXT-STS:power_state")).lower() in ("1", "running")' \
  openstack server show "$SID" -f json
expect_json "hypervisor list: QEMU" 'any(h["Hypervisor Type"] == "QEMU" for h in d)' \
  openstack hypervisor list --long -f json
ok "console log show: the guest booted ($MARKER)" console_wait "$SID" "^$MARKER\$"
expect_has "console log show: the server's uuid, read from the config drive" "uuid: $SID" \
  openstack console log show "$SID"
expect_has "console log show: the server's hostname, read from the config drive" "hostname: $S" \
  openstack console log show "$SID"
ok "a qemu process runs the server (pid file, process table, its QMP socket)" qemu_pid "$SID"
PID1=$OUT
expect_eq "QMP query-status: running" running qmp_status "$SID"
expect_json "the instance directory: a qcow2 overlay on the cached image, grown to the flavor's disk" \
  'd["format"] == "qcow2" and d["virtual-size"] == 1 << 30 and d["backing-filename"].endswith(E["IID"])' \
  qemu-img info -U --output=json "$INST/$SID/disk"

# ------------------------------------------------------------------ pause / unpause
ok "server pause" openstack server pause "$SID"
ok "PAUSED" wait_status "$SID" PAUSED
expect_eq "QMP query-status: paused" paused qmp_status "$SID"
ok "the same qemu process (paused, not stopped)" same_pid "$SID" "$PID1"
ok "server unpause" openstack server unpause "$SID"
ok "ACTIVE after unpause" wait_status "$SID" ACTIVE
expect_eq "QMP query-status: running again" running qmp_status "$SID"
ok "the same qemu process after unpause" same_pid "$SID" "$PID1"

# ------------------------------------------------------------------ stop / start
ok "server stop" openstack server stop "$SID"
ok "SHUTOFF" wait_status "$SID" SHUTOFF
ok "no qemu process after stop" no_qemu "$SID"
ok "the guest powered off on ACPI (console: reboot: Power down)" console_wait "$SID" "reboot: Power down"
ok "server start" openstack server start "$SID"
ok "ACTIVE after start" wait_status "$SID" ACTIVE
ok "a new qemu process after start" other_pid "$SID" "$PID1"
PID2=$(qemu_pid "$SID")
expect_eq "QMP query-status: running after start" running qmp_status "$SID"
ok "console: a second boot" console_wait "$SID" "^$MARKER\$" 2

# ------------------------------------------------------------------ reboot
ok "server reboot --wait" timeout "$WAIT_S" openstack server reboot --wait "$SID"
ok "ACTIVE after reboot" wait_status "$SID" ACTIVE
ok "a new qemu process after reboot" other_pid "$SID" "$PID2"
PID3=$(qemu_pid "$SID")
expect_eq "QMP query-status: running after reboot" running qmp_status "$SID"
ok "console: a third boot" console_wait "$SID" "^$MARKER\$" 3

# ------------------------------------------------------------------ volume hot-plug
V="$P-data"
ok "volume create --size 1" openstack volume create --size 1 "$V" -f json
VID=$(jget id)
defer openstack volume delete "$VID"
ok "the volume becomes available" wait_volume "$VID" available
ok "server add volume (the guest runs)" openstack server add volume "$SID" "$VID"
ok "the volume is in-use" wait_volume "$VID" in-use
ok "the guest sees a new 1 GiB disk (console: disk added: vdX 1073741824 bytes)" \
  console_wait "$SID" "^disk added: vd[a-z]+ 1073741824 bytes\$"
DISK=$(printf '%s\n' "$OUT" | tail -1 | cut -d' ' -f3)
ok "the same qemu process after the hot-plug" same_pid "$SID" "$PID3"
ok "server remove volume" openstack server remove volume "$SID" "$VID"
ok "the volume is available again" wait_volume "$VID" available
ok "the guest sees the disk go (console: disk removed: ${DISK:-?})" console_wait "$SID" "^disk removed: ${DISK:-?}\$"
ok "the same qemu process after the unplug" same_pid "$SID" "$PID3"

# ------------------------------------------------------------------ shelve / unshelve
ok "server shelve" openstack server shelve "$SID"
ok "SHELVED_OFFLOADED" wait_status "$SID" SHELVED_OFFLOADED
ok "no qemu process after the offload" no_qemu "$SID"
ok "no instance directory after the offload" test ! -e "$INST/$SID"
eventually_json "image list --name $S-shelved: one active image" 60 \
  'len(d) == 1 and d[0]["Status"] == "active"' openstack image list --name "$S-shelved" -f json
SHID=$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d[0]["ID"] if d else "")')
export SHID KID RID
expect_json "the shelved image: the root disk as qcow2, with the server image's kernel_id and ramdisk_id" \
  'd["disk_format"] == "qcow2" and d["size"] > 0 and E["KID"] in str(d["properties"]) and E["RID"] in str(d["properties"])' \
  openstack image show "$SHID" -f json
ok "server unshelve" openstack server unshelve "$SID"
ok "ACTIVE after unshelve" wait_status "$SID" ACTIVE
ok "console: the guest booted again" console_wait "$SID" "^$MARKER\$"
expect_json "the instance directory: an overlay on the shelved image" \
  'd["format"] == "qcow2" and d["backing-filename"].endswith(E["SHID"])' \
  qemu-img info -U --output=json "$INST/$SID/disk"
ok "a qemu process runs the unshelved server" qemu_pid "$SID"
PID3=$OUT
expect_fail "the shelved image is deleted after unshelve" openstack image show "$SHID"

# ------------------------------------------------------------------ boot from volume
BV="$P-boot"
ok "volume create --image (the guest's disk image)" \
  openstack volume create --size 1 --image "$IID" "$BV" -f json
BVID=$(jget id)
export BVID
defer openstack volume delete "$BVID"
ok "the boot volume becomes available" wait_volume "$BVID" available
BS="$P-bfv"
ok "server create --volume --config-drive True --wait" \
  timeout "$WAIT_S" openstack server create --volume "$BVID" --flavor "$FL" --network "$N" \
  --config-drive True --wait "$BS" -f json
BSID=$(jget id)
export BSID
defer timeout "$WAIT_S" openstack server delete --wait "$BSID"
if [ -n "$BSID" ]; then
  expect_json "the boot volume is in use on /dev/vda" \
    'd["status"] == "in-use" and any(a["server_id"] == E["BSID"] and a["device"] == "/dev/vda" for a in d["attachments"])' \
    openstack volume show "$BVID" -f json
  ok "console log show: the volume-backed guest booted" console_wait "$BSID" "^$MARKER\$"
  expect_has "console log show: its uuid from the config drive" "uuid: $BSID" openstack console log show "$BSID"
  ok "a qemu process runs the volume-backed server" qemu_pid "$BSID"
  BPID=$OUT
  ok "it runs on the volume's file (no overlay of the image)" \
    bash -c '[ ! -e "$1/$2/disk" ] && tr "\0" " " <"/proc/$3/cmdline" | grep -q "volume-$4"' _ "$INST" "$BSID" "$BPID" "$BVID"
  expect_eq "QMP query-status of the volume-backed server: running" running qmp_status "$BSID"
  ok "server delete --wait (volume-backed)" timeout "$WAIT_S" openstack server delete --wait "$BSID"
  ok "no qemu process of the volume-backed server" no_qemu "$BSID"
  ok "its instance directory is gone" test ! -e "$INST/$BSID"
fi
ok "the boot volume is available again" wait_volume "$BVID" available

# ------------------------------------------------------------------ delete
ok "server delete --wait" timeout "$WAIT_S" openstack server delete --wait "$SID"
ok "no qemu process after delete (pid $PID3)" bash -c '! kill -0 "$1" 2>/dev/null || ! tr "\0" " " </proc/$1/cmdline | grep -qF "$2"' _ "$PID3" "$SID"
ok "no overlay, no QMP socket, no instance directory left" \
  bash -c '[ ! -e "$1/$2/disk" ] && [ ! -e "$1/$2/qmp.sock" ] && [ ! -e "$1/$2" ]' _ "$INST" "$SID"
expect_fail "no qemu process of this cloud is left (pgrep)" pgrep -f -- "$INST/.*/qmp\.sock"

finish
