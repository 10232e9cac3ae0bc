#!/usr/bin/env bash
# Networking (Neutron v2.0) through the real `openstack` CLI. Run by conformance/cli/run.
# Semantics are those of the real Neutron: every expectation below holds against it.
SCENARIO=network
# shellcheck source=conformance/cli/lib.sh
. "${CONFORMANCE_LIB:-$(dirname "$0")/lib.sh}"

P="cli-$RUN_ID"
export P

# ------------------------------------------------------------------ networks
N="$P-net"; export N
expect_json "network create" \
  'd["name"] == E["N"] and d["status"] == "ACTIVE" and d["admin_state_up"] is True and d["shared"] is False and d["mtu"] > 0' \
  openstack network create --description "cli net" "$N" -f json
NID=$(jget id)
defer openstack network delete "$NID"
expect_eq "network show by name" "$NID" openstack network show "$N" -f value -c id
expect_has "network list" "$N" openstack network list -f value -c Name
ok "network set --name --description" openstack network set --name "$N-2" --description changed "$NID"
expect_json "network show after set" 'd["name"] == E["N"] + "-2" and d["description"] == "changed" and d["revision_number"] >= 2' \
  openstack network show "$NID" -f json
ok "network set --tag" openstack network set --tag red "$NID"
expect_has "network list --tags red" "$N-2" openstack network list --tags red -f value -c Name

# ------------------------------------------------------------------ subnets
S="$P-sub"; export S
expect_json "subnet create" \
  'd["cidr"] == "10.77.0.0/24" and d["gateway_ip"] == "10.77.0.1" and d["allocation_pools"][0]["start"] == "10.77.0.2" and d["enable_dhcp"] is True' \
  openstack subnet create --network "$NID" --subnet-range 10.77.0.0/24 --dns-nameserver 8.8.8.8 "$S" -f json
SID=$(jget id)
defer openstack subnet delete "$SID"
expect_fail "an overlapping subnet on the same network is refused" \
  openstack subnet create --network "$NID" --subnet-range 10.77.0.128/25 "$S-overlap"
expect_json "ipv6 subnet create (slaac)" 'd["ip_version"] == 6 and d["ipv6_address_mode"] == "slaac"' \
  openstack subnet create --network "$NID" --ip-version 6 --ipv6-ra-mode slaac --ipv6-address-mode slaac \
  --subnet-range fd00:77::/64 "$S-v6" -f json
S6ID=$(jget id)
defer openstack subnet delete "$S6ID"
expect_has "subnet list --network" "$S" openstack subnet list --network "$NID" -f value -c Name
ok "subnet set --name" openstack subnet set --name "$S-b" "$SID"
expect_eq "subnet show after set" "$S-b" openstack subnet show "$SID" -f value -c name

# ------------------------------------------------------------------ ports
expect_json "port create: MAC and a fixed IP from the pool" \
  'd["mac_address"].startswith("fa:16:3e:") and any(f["ip_address"].startswith("10.77.0.") for f in d["fixed_ips"])' \
  openstack port create --network "$NID" "$P-port" -f json
PID=$(jget id)
export PID
defer openstack port delete "$PID"
expect_json "port create with a given fixed IP" \
  'any(f["ip_address"] == "10.77.0.50" for f in d["fixed_ips"])' \
  openstack port create --network "$NID" --fixed-ip subnet="$SID",ip-address=10.77.0.50 "$P-port2" -f json
PID2=$(jget id)
defer openstack port delete "$PID2"
expect_fail "the same fixed IP twice is refused" \
  openstack port create --network "$NID" --fixed-ip subnet="$SID",ip-address=10.77.0.50 "$P-port3"
expect_has "port list --network" "$P-port" openstack port list --network "$NID" -f value -c Name
ok "port set --name --device-owner" openstack port set --name "$P-port-b" "$PID"
expect_eq "port show after set" "$P-port-b" openstack port show "$PID" -f value -c name
ok "port delete" openstack port delete "$PID2"
expect_fail "port show after delete" openstack port show "$PID2"

# ------------------------------------------------------------------ security groups
G="$P-sg"; export G
expect_json "security group create: two egress rules" \
  'd["name"] == E["G"] and len(d["rules"]) == 2' \
  openstack security group create --description "cli sg" "$G" -f json
GID=$(jget id)
defer openstack security group delete "$GID"
expect_json "security group rule create tcp 22" \
  'd["protocol"] == "tcp" and d["port_range_min"] == 22 and d["port_range_max"] == 22 and d["direction"] == "ingress"' \
  openstack security group rule create --protocol tcp --dst-port 22 --remote-ip 0.0.0.0/0 "$GID" -f json
RID=$(jget id)
expect_fail "a duplicate rule is refused" \
  openstack security group rule create --protocol tcp --dst-port 22 --remote-ip 0.0.0.0/0 "$GID"
expect_has "security group rule list" "$RID" openstack security group rule list "$GID" -f value -c ID
expect_has "the project has a default group" "default" openstack security group list -f value -c Name
ok "security group rule delete" openstack security group rule delete "$RID"
expect_lacks "rule gone" "$RID" openstack security group rule list "$GID" -f value -c ID

# ------------------------------------------------------------------ routers and floating IPs
EXT="$P-public"; export EXT
expect_json "external network create" 'd["router:external"] is True' \
  openstack network create --external --provider-network-type flat --provider-physical-network public "$EXT" -f json
EXTID=$(jget id)
export EXTID
defer openstack network delete "$EXTID"
ok "external subnet create" openstack subnet create --network "$EXTID" --subnet-range 203.0.113.0/24 --no-dhcp "$EXT-sub" -f json
EXTSID=$(jget id)
defer openstack subnet delete "$EXTSID"
R="$P-router"; export R
expect_json "router create" 'd["name"] == E["R"] and d["status"] == "ACTIVE"' \
  openstack router create "$R" -f json
RTID=$(jget id)
export RTID
defer openstack router delete "$RTID"
ok "router set --external-gateway" openstack router set --external-gateway "$EXTID" "$RTID"
expect_json "router has its gateway" \
  'd["external_gateway_info"]["network_id"] == E["EXTID"] and d["external_gateway_info"]["external_fixed_ips"][0]["ip_address"].startswith("203.0.113.")' \
  openstack router show "$RTID" -f json
ok "router add subnet" openstack router add subnet "$RTID" "$SID"
defer openstack router remove subnet "$RTID" "$SID"
expect_has "the router interface holds the subnet gateway" "10.77.0.1" \
  sh -c "openstack port list --router $RTID -f json | $PY -c 'import json,sys; [print(f[\"ip_address\"]) for p in json.load(sys.stdin) for f in p[\"Fixed IP Addresses\"]]'"
expect_fail "a router with interfaces cannot be deleted" openstack router delete "$RTID"
expect_json "floating ip create" 'd["floating_ip_address"].startswith("203.0.113.") and d["port_id"] is None' \
  openstack floating ip create "$EXTID" -f json
FID=$(jget id)
FIP=$(jget floating_ip_address)
defer openstack floating ip delete "$FID"
ok "floating ip set --port" openstack floating ip set --port "$PID" "$FID"
expect_json "floating ip is associated through the router" \
  'd["port_id"] == E["PID"] and d["router_id"] == E["RTID"] and d["fixed_ip_address"].startswith("10.77.0.")' \
  openstack floating ip show "$FID" -f json
expect_has "floating ip list" "$FIP" openstack floating ip list -f value -c "Floating IP Address"
ok "floating ip unset --port" openstack floating ip unset --port "$FID"
ok "floating ip delete" openstack floating ip delete "$FID"
ok "router remove subnet" openstack router remove subnet "$RTID" "$SID"
ok "router delete" openstack router delete "$RTID"
expect_fail "router show after delete" openstack router show "$RTID"

# ------------------------------------------------------------------ quotas
expect_json "quota show" 'any(r["Resource"] == "networks" and r["Limit"] == 100 for r in d)' \
  openstack quota show --network -f json
ok "quota set --networks" openstack quota set --networks 42 admin
expect_json "quota show after set" 'any(r["Resource"] == "networks" and r["Limit"] == 42 for r in d)' \
  openstack quota show --network admin -f json

# ------------------------------------------------------------------ cleanup order
ok "port delete" openstack port delete "$PID"
ok "subnet delete" openstack subnet delete "$S6ID"
ok "subnet delete (v4)" openstack subnet delete "$SID"
ok "network delete" openstack network delete "$NID"
expect_fail "network show after delete" openstack network show "$NID"

finish
