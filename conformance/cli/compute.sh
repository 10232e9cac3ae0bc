#!/usr/bin/env bash
# Compute (Nova v2.1) through the real `openstack` CLI. Run by conformance/cli/run.
# Semantics are those of the real Nova (with Neutron and Glance): every expectation below
# holds against it. A server is booted on a network of its own from a small raw image, taken
# through its power states, resized, snapshotted, given a second port, and deleted.
SCENARIO=compute
# shellcheck source=conformance/cli/lib.sh
. "${CONFORMANCE_LIB:-$(dirname "$0")/lib.sh}"

P="cli-$RUN_ID"
export P
PROJECT=${OS_PROJECT_NAME:-admin}
WORK=$(mktemp -d)
defer rm -rf "$WORK"

# The CLI's own --wait loops are unbounded: every waiting command runs under `timeout`.
WAIT_S=120

# wait_status SERVER STATUS [SECONDS]: polls `openstack server show` until STATUS (60 s);
# gives up at once on ERROR.
wait_status() {
  local id=$1 want=$2 secs=${3:-60} i got=""
  for i in $(seq 1 "$secs"); do
    got=$(openstack server show "$id" -f value -c status 2>/dev/null)
    [ "$got" = "$want" ] && return 0
    [ "$got" = ERROR ] && break
    sleep 1
  done
  echo "server $id: status ${got:-<none>}, wanted $want" >&2
  return 1
}

# wait_port_free PORT: polls until the port has no device (60 s; Nova detaches asynchronously).
wait_port_free() {
  local i got=""
  for i in $(seq 1 60); do
    got=$(openstack port show "$1" -f value -c device_id 2>/dev/null) && [ -z "$got" ] && return 0
    sleep 1
  done
  echo "port $1: device_id ${got:-<none>}, wanted none" >&2
  return 1
}

# expect_fail_msg DESC TEXT CMD...: non-zero exit, and TEXT (any case) in stdout or stderr.
expect_fail_msg() {
  local desc=$1 want=$2; shift 2
  _run "$@"
  if [ "$RC" -ne 0 ] && printf '%s\n%s\n' "$OUT" "$ERR" | grep -Fiq -- "$want"; then
    _pass "$desc"; return 0
  fi
  _fail "$desc" "$(_show_cmd "$@")" "non-zero exit, output containing: $want" "$(_actual)"
  return 1
}

# The flavor of a `server show -f json`: a dict (microversion >= 2.47) or "name (id)".
FLAVOR_NAME='(d["flavor"].get("original_name") if isinstance(d["flavor"], dict) else d["flavor"].rsplit(" (", 1)[0])'

# ------------------------------------------------------------------ flavors
FL1="$P-small"; FL2="$P-big"; export FL1 FL2
expect_json "flavor create" \
  'd["name"] == E["FL1"] and d["ram"] == 256 and d["vcpus"] == 1 and d["disk"] == 1 and d["os-flavor-access:is_public"] is True' \
  openstack flavor create --ram 256 --vcpus 1 --disk 1 "$FL1" -f json
FL1ID=$(jget id)
defer openstack flavor delete "$FL1ID"
expect_json "flavor create (bigger)" 'd["name"] == E["FL2"] and d["ram"] == 512 and d["vcpus"] == 2 and d["disk"] == 2' \
  openstack flavor create --ram 512 --vcpus 2 --disk 2 "$FL2" -f json
FL2ID=$(jget id)
export FL2ID
defer openstack flavor delete "$FL2ID"
expect_has "flavor list" "$FL1" openstack flavor list -f value -c Name
expect_json "flavor show by name" 'd["id"] == E["FL2ID"] and d["ram"] == 512 and d["vcpus"] == 2' \
  openstack flavor show "$FL2" -f json
expect_fail "a duplicate flavor name is refused" openstack flavor create --ram 256 --vcpus 1 --disk 1 "$FL1"

# ------------------------------------------------------------------ keypairs
K="$P-key"; export K
ssh-keygen -q -t ed25519 -N '' -C "$K" -f "$WORK/key"
FP=$(ssh-keygen -l -E md5 -f "$WORK/key.pub" | awk '{print $2}'); FP=${FP#MD5:}
export FP
expect_json "keypair create --public-key: the key's MD5 fingerprint" \
  'd["name"] == E["K"] and d["fingerprint"] == E["FP"] and d["type"] == "ssh"' \
  openstack keypair create --public-key "$WORK/key.pub" "$K" -f json
defer openstack keypair delete "$K"
expect_has "keypair list" "$K" openstack keypair list -f value -c Name
expect_fail "a duplicate keypair name is refused" openstack keypair create --public-key "$WORK/key.pub" "$K"

# ------------------------------------------------------------------ network and image to boot from
N="$P-net"; export N
ok "network create" openstack network create "$N" -f json
NID=$(jget id)
defer openstack network delete "$NID"
expect_json "subnet create" 'd["cidr"] == "10.78.0.0/24"' \
  openstack subnet create --network "$NID" --subnet-range 10.78.0.0/24 "$P-sub" -f json
SUBID=$(jget id)
defer openstack subnet delete "$SUBID"
head -c 1048576 /dev/zero >"$WORK/disk.raw"
I="$P-image"; export I
expect_json "image create (1 MiB raw)" 'd["name"] == E["I"] and d["status"] == "active" and d["size"] == 1048576' \
  openstack image create --disk-format raw --container-format bare --file "$WORK/disk.raw" "$I" -f json
IID=$(jget id)
export IID
defer openstack image delete "$IID"

# ------------------------------------------------------------------ boot
S="$P-vm"; export S
expect_json "server create --wait: ACTIVE with the key, flavor and an address on the network" \
  'd["name"] == E["S"] and d["status"] == "ACTIVE" and d["key_name"] == E["K"] and '"$FLAVOR_NAME"' == E["FL1"] and any(a.startswith("10.78.0.") for a in d["addresses"].get(E["N"], []))' \
  timeout "$WAIT_S" openstack server create --image "$IID" --flavor "$FL1" --key-name "$K" --network "$N" --wait "$S" -f json
SID=$(jget id)
export SID
defer timeout "$WAIT_S" openstack server delete --wait "$SID"
expect_json "server list: the server is ACTIVE on the network" \
  'any(r["ID"] == E["SID"] and r["Name"] == E["S"] and r["Status"] == "ACTIVE" and E["N"] in r["Networks"] for r in d)' \
  openstack server list -f json
expect_json "server show: ACTIVE, running, key, flavor, image, address from the subnet" \
  'd["id"] == E["SID"] and d["status"] == "ACTIVE" and d["OS-EXT-STS:vm_state"] == "active" and d["OS-EXT-STS:power_state"] in (1, "Running") and d["key_name"] == E["K"] and '"$FLAVOR_NAME"' == E["FL1"] and E["IID"] in d["image"] and len(d["addresses"][E["N"]]) == 1 and d["addresses"][E["N"]][0].startswith("10.78.0.")' \
  openstack server show "$SID" -f json
IP=$(printf '%s' "$OUT" | "$PY" -c 'import json,os,sys; print(json.load(sys.stdin)["addresses"][os.environ["N"]][0])' 2>/dev/null)
export IP
expect_json "port list --server: the server's port holds its address" \
  'len(d) == 1 and [f["ip_address"] for f in d[0]["Fixed IP Addresses"]] == [E["IP"]] and d[0]["Status"] == "ACTIVE"' \
  openstack port list --server "$SID" -f json
VMPORT=$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["ID"])' 2>/dev/null)
expect_json "port show: bound to the server by compute" \
  'd["device_id"] == E["SID"] and d["device_owner"].startswith("compute:")' \
  openstack port show "${VMPORT:-none}" -f json

# ------------------------------------------------------------------ a floating IP on the server
EXT="$P-public"
ok "external network create" openstack network create --external "$EXT" -f json
EXTID=$(jget id)
defer openstack network delete "$EXTID"
ok "external subnet create" \
  openstack subnet create --network "$EXTID" --subnet-range 203.0.113.0/24 --no-dhcp "$EXT-sub" -f json
EXTSID=$(jget id)
defer openstack subnet delete "$EXTSID"
ok "router create" openstack router create "$P-router" -f json
RTID=$(jget id)
defer openstack router delete "$RTID"
ok "router set --external-gateway" openstack router set --external-gateway "$EXTID" "$RTID"
ok "router add subnet (the server's)" openstack router add subnet "$RTID" "$SUBID"
defer openstack router remove subnet "$RTID" "$SUBID"
expect_json "floating ip create on the external network" 'd["floating_ip_address"].startswith("203.0.113.")' \
  openstack floating ip create "$EXT" -f json
FID=$(jget id)
FIP=$(jget floating_ip_address)
export FIP VMPORT
defer openstack floating ip delete "$FID"
ok "server add floating ip" openstack server add floating ip "$SID" "$FIP"
expect_json "floating ip show: on the server's port and fixed address" \
  'd["port_id"] == E["VMPORT"] and d["fixed_ip_address"] == E["IP"]' \
  openstack floating ip show "$FID" -f json
eventually_json "server show: the floating address beside the fixed one (Neutron tells Nova)" 20 \
  'E["FIP"] in d["addresses"][E["N"]] and E["IP"] in d["addresses"][E["N"]]' \
  openstack server show "$SID" -f json
ok "server remove floating ip" openstack server remove floating ip "$SID" "$FIP"
expect_json "floating ip show: free again" 'd["port_id"] is None' \
  openstack floating ip show "$FID" -f json
eventually_json "server show: only the fixed address" 20 \
  'd["addresses"][E["N"]] == [E["IP"]]' \
  openstack server show "$SID" -f json

# ------------------------------------------------------------------ power states
ok "server stop" openstack server stop "$SID"
ok "server is SHUTOFF" wait_status "$SID" SHUTOFF
expect_eq "power state 4 (shutdown)" "4" openstack server show "$SID" -f value -c OS-EXT-STS:power_state
expect_fail "server stop of a stopped server is refused" openstack server stop "$SID"
ok "server start" openstack server start "$SID"
ok "server is ACTIVE after start" wait_status "$SID" ACTIVE
expect_fail "server start of a running server is refused" openstack server start "$SID"
ok "server reboot" openstack server reboot "$SID"
ok "server is ACTIVE after reboot" wait_status "$SID" ACTIVE
ok "server pause" openstack server pause "$SID"
ok "server is PAUSED" wait_status "$SID" PAUSED
expect_eq "power state 3 (paused)" "3" openstack server show "$SID" -f value -c OS-EXT-STS:power_state
ok "server unpause" openstack server unpause "$SID"
ok "server is ACTIVE after unpause" wait_status "$SID" ACTIVE

# ------------------------------------------------------------------ resize
expect_fail "server resize to the same flavor is refused" openstack server resize --flavor "$FL1" "$SID"
ok "server resize --flavor (bigger) --wait" timeout "$WAIT_S" openstack server resize --flavor "$FL2" --wait "$SID"
expect_json "server is VERIFY_RESIZE on the new flavor" \
  'd["status"] == "VERIFY_RESIZE" and '"$FLAVOR_NAME"' == E["FL2"]' \
  openstack server show "$SID" -f json
ok "server resize confirm" openstack server resize confirm "$SID"
ok "server is ACTIVE after resize confirm" wait_status "$SID" ACTIVE
expect_json "server show after resize: the new flavor, the same address" \
  'd["status"] == "ACTIVE" and '"$FLAVOR_NAME"' == E["FL2"] and d["addresses"][E["N"]] == [E["IP"]]' \
  openstack server show "$SID" -f json

# ------------------------------------------------------------------ snapshot
SNAP="$P-snap"; export SNAP
expect_json "server image create --wait: an active snapshot image" \
  'd["name"] == E["SNAP"] and d["status"] == "active"' \
  timeout 60 openstack server image create --name "$SNAP" --wait "$SID" -f json
SNAPID=$(openstack image list --name "$SNAP" -f value -c ID 2>/dev/null | head -n 1)
[ -n "$SNAPID" ] && defer openstack image delete "$SNAPID"
expect_has "image list shows the snapshot" "$SNAP" openstack image list -f value -c Name
expect_json "the snapshot records its server" \
  'd["properties"].get("image_type") == "snapshot" and d["properties"].get("instance_uuid") == E["SID"]' \
  openstack image show "${SNAPID:-none}" -f json
ok "server is ACTIVE after the snapshot" wait_status "$SID" ACTIVE
ok "image delete (snapshot)" openstack image delete "${SNAPID:-none}"
expect_lacks "image list after snapshot delete" "$SNAP" openstack image list -f value -c Name

# ------------------------------------------------------------------ interfaces
expect_json "port create (for attaching)" 'any(f["ip_address"] == "10.78.0.50" for f in d["fixed_ips"])' \
  openstack port create --network "$NID" --fixed-ip subnet="$SUBID",ip-address=10.78.0.50 "$P-port" -f json
PID=$(jget id)
defer openstack port delete "$PID"
ok "server add port" timeout "$WAIT_S" openstack server add port "$SID" "$PID"
expect_json "the attached port is bound to the server" \
  'd["device_id"] == E["SID"] and d["device_owner"].startswith("compute:")' \
  openstack port show "$PID" -f json
expect_json "server show: both addresses on the network" \
  'sorted(d["addresses"][E["N"]]) == sorted([E["IP"], "10.78.0.50"])' \
  openstack server show "$SID" -f json
expect_has "port list --server shows the attached port" "$PID" openstack port list --server "$SID" -f value -c ID
ok "server remove port" openstack server remove port "$SID" "$PID"
ok "the detached port is free" wait_port_free "$PID"
expect_lacks "port list --server after remove port" "$PID" openstack port list --server "$SID" -f value -c ID
expect_json "server show after remove port: one address again" \
  'd["addresses"][E["N"]] == [E["IP"]]' \
  openstack server show "$SID" -f json

# ------------------------------------------------------------------ instance actions
expect_json "server event list: every action taken" \
  '{"create", "stop", "start", "reboot", "pause", "unpause", "resize", "confirmResize", "createImage", "attach_interface", "detach_interface"} <= {r["Action"] for r in d} and all(r["Server ID"] == E["SID"] for r in d)' \
  openstack server event list "$SID" -f json
CREATE_REQ=$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print([r["Request ID"] for r in json.load(sys.stdin) if r["Action"] == "create"][0])' 2>/dev/null)
expect_json "server event show (create): the build event succeeded" \
  'd["action"] == "create" and any(e["event"] == "compute__do_build_and_run_instance" and e["result"] == "Success" for e in d["events"])' \
  openstack server event show "$SID" "${CREATE_REQ:-none}" -f json

# ------------------------------------------------------------------ quotas
expect_json "quota show --compute: instances, cores and ram" \
  'all(any(r["Resource"] == k and isinstance(r["Limit"], int) for r in d) for k in ("instances", "cores", "ram"))' \
  openstack quota show --compute "$PROJECT" -f json
expect_json "quota show --usage: the server counts against instances, cores and ram" \
  'any(r["Resource"] == "instances" and r["In Use"] >= 1 for r in d) and any(r["Resource"] == "cores" and r["In Use"] >= 2 for r in d) and any(r["Resource"] == "ram" and r["In Use"] >= 512 for r in d)' \
  openstack quota show --compute --usage "$PROJECT" -f json
read -r QLIMIT QUSED < <(printf '%s' "$OUT" | "$PY" -c '
import json, sys
r = [r for r in json.load(sys.stdin) if r["Resource"] == "instances"][0]
print(r["Limit"], r["In Use"])' 2>/dev/null)
QLIMIT=${QLIMIT:-10}; QUSED=${QUSED:-1}
export QUSED
defer openstack quota set --instances "$QLIMIT" "$PROJECT"
ok "quota set --instances (to the number in use)" openstack quota set --instances "$QUSED" "$PROJECT"
expect_json "quota show after set" 'any(r["Resource"] == "instances" and r["Limit"] == int(E["QUSED"]) for r in d)' \
  openstack quota show --compute "$PROJECT" -f json
expect_fail_msg "server create over the instances quota is refused" "Quota exceeded" \
  timeout "$WAIT_S" openstack server create --image "$IID" --flavor "$FL1" --network "$N" --wait "$S-over"
expect_lacks "no server was created over quota" "$S-over" openstack server list -f value -c Name
ok "quota set --instances (restored)" openstack quota set --instances "$QLIMIT" "$PROJECT"
export QLIMIT
expect_json "quota show after restore" 'any(r["Resource"] == "instances" and r["Limit"] == int(E["QLIMIT"]) for r in d)' \
  openstack quota show --compute "$PROJECT" -f json

# ------------------------------------------------------------------ delete
ok "server delete --wait" timeout "$WAIT_S" openstack server delete --wait "$SID"
expect_fail "server show after delete" openstack server show "$SID"
expect_lacks "server list after delete" "$S" openstack server list -f value -c Name
expect_fail "the port compute created is deleted with the server" openstack port show "${VMPORT:-none}"
ok "port delete (the detached one)" openstack port delete "$PID"
ok "keypair delete" openstack keypair delete "$K"
expect_lacks "keypair list after delete" "$K" openstack keypair list -f value -c Name
ok "flavor delete" openstack flavor delete "$FL2ID"
expect_lacks "flavor list after delete" "$FL2" openstack flavor list -f value -c Name
expect_fail "flavor show after delete" openstack flavor show "$FL2ID"

finish
