#!/usr/bin/env bash
# Identity (Keystone v3) through the real `openstack` CLI. Run by conformance/cli/run.
# Semantics are those of the real Keystone: every expectation below holds against it.
SCENARIO=identity
# shellcheck source=conformance/cli/lib.sh
. "${CONFORMANCE_LIB:-$(dirname "$0")/lib.sh}"

P="cli-$RUN_ID"
export P

# ------------------------------------------------------------------ tokens
expect_json "token issue: id, expiry, project and user" \
  'd["id"] and d["expires"] and d["project_id"] and d["user_id"]' \
  openstack token issue -f json
ADMIN_UID_TOKEN=$(jget user_id)
ADMIN_PID_TOKEN=$(jget project_id)
expect_eq "token user is the admin user" "$ADMIN_UID_TOKEN" openstack user show admin -f value -c id
ADMIN_UID=$OUT
expect_eq "token project is project admin" "$ADMIN_PID_TOKEN" openstack project show admin -f value -c id
ADMIN_PID=$OUT
export ADMIN_UID ADMIN_PID

# authenticate with a bare token instead of the password
with_token() {
  local tok=$1; shift
  env -u OS_USERNAME -u OS_PASSWORD -u OS_USER_DOMAIN_NAME -u OS_USER_DOMAIN_ID \
    OS_AUTH_TYPE=v3token OS_TOKEN="$tok" "$@"
}
ok "token issue (to revoke)" openstack token issue -f value -c id
T=$OUT
expect_eq "the token authenticates before revocation" "admin" \
  with_token "$T" openstack project show admin -f value -c name
ok "token revoke" openstack token revoke "$T"
expect_fail "a revoked token is rejected" with_token "$T" openstack project show admin -f value -c name

# ------------------------------------------------------------------ domains
D="$P-dom"; export D
expect_json "domain create" 'd["name"] == E["D"] and d["description"] == "cli domain" and d["enabled"] is True' \
  openstack domain create --description "cli domain" "$D" -f json
DID=$(jget id)
defer openstack domain delete "$DID"
defer openstack domain set --disable "$DID"
expect_eq "domain show by name" "$DID" openstack domain show "$D" -f value -c id
expect_has "domain list" "$D" openstack domain list -f value -c Name
expect_fail "an enabled domain cannot be deleted" openstack domain delete "$DID"
ok "domain set --description --disable" openstack domain set --description "changed" --disable "$DID"
expect_json "domain show after set" 'd["description"] == "changed" and d["enabled"] is False' \
  openstack domain show "$DID" -f json
ok "domain delete" openstack domain delete "$DID"
expect_fail "domain show after delete" openstack domain show "$DID"
expect_lacks "domain list after delete" "$D" openstack domain list -f value -c Name

# ------------------------------------------------------------------ projects
PR="$P-proj"; export PR
expect_json "project create" \
  'd["name"] == E["PR"] and d["domain_id"] == "default" and d["description"] == "cli project" and d["enabled"] is True' \
  openstack project create --domain default --description "cli project" "$PR" -f json
PRID=$(jget id)
defer openstack project delete "$PRID"
expect_eq "project show by name" "$PRID" openstack project show --domain default "$PR" -f value -c id
expect_has "project list --domain default" "$PR" openstack project list --domain default -f value -c Name
ok "project set --name --description --disable" \
  openstack project set --name "$PR-renamed" --description "changed" --disable "$PRID"
expect_json "project show after set" \
  'd["name"] == E["PR"] + "-renamed" and d["description"] == "changed" and d["enabled"] is False' \
  openstack project show "$PRID" -f json
ok "project delete" openstack project delete "$PRID"
expect_fail "project show after delete" openstack project show "$PRID"

# ------------------------------------------------------------------ users
U="$P-user"; export U
expect_json "user create" \
  'd["name"] == E["U"] and d["domain_id"] == "default" and d.get("email") == "u@example.org" and d["enabled"] is True and "password" not in d' \
  openstack user create --domain default --password "Pw-$RUN_ID" --email u@example.org "$U" -f json
UID_=$(jget id)
defer openstack user delete "$UID_"
expect_eq "user show by name" "$UID_" openstack user show --domain default "$U" -f value -c id
expect_has "user list --domain default" "$U" openstack user list --domain default -f value -c Name
ok "user set --email --disable" openstack user set --email v@example.org --disable "$UID_"
expect_json "user show after set" 'd.get("email") == "v@example.org" and d["enabled"] is False' \
  openstack user show "$UID_" -f json
ok "user delete" openstack user delete "$UID_"
expect_fail "user show after delete" openstack user show "$UID_"

# ------------------------------------------------------------------ groups
G="$P-group"; export G
expect_json "group create" 'd["name"] == E["G"] and d["domain_id"] == "default" and d["description"] == "cli group"' \
  openstack group create --domain default --description "cli group" "$G" -f json
GID=$(jget id)
defer openstack group delete "$GID"
expect_eq "group show by name" "$GID" openstack group show --domain default "$G" -f value -c id
expect_has "group list --domain default" "$G" openstack group list --domain default -f value -c Name
ok "group set --name --description" openstack group set --name "$G-renamed" --description "changed" "$GID"
expect_json "group show after set" 'd["name"] == E["G"] + "-renamed" and d["description"] == "changed"' \
  openstack group show "$GID" -f json
ok "group delete" openstack group delete "$GID"
expect_fail "group show after delete" openstack group show "$GID"

# ------------------------------------------------------------------ roles
R="$P-role"; export R
expect_json "role create" 'd["name"] == E["R"] and d["description"] == "cli role"' \
  openstack role create --description "cli role" "$R" -f json
RID=$(jget id)
defer openstack role delete "$RID"
expect_eq "role show by name" "$RID" openstack role show "$R" -f value -c id
expect_has "role list" "$R" openstack role list -f value -c Name
expect_has "role list has the bootstrap role reader" "reader" openstack role list -f value -c Name
ok "role set --name --description" openstack role set --name "$R-renamed" --description "changed" "$RID"
expect_json "role show after set" 'd["name"] == E["R"] + "-renamed" and d["description"] == "changed"' \
  openstack role show "$RID" -f json
ok "role delete" openstack role delete "$RID"
expect_fail "role show after delete" openstack role show "$RID"

# ------------------------------------------------------------------ assignments
AP="$P-ap"; AU="$P-au"; AG="$P-ag"; AR="$P-ar"; PW1="Pw1-$RUN_ID"; PW2="Pw2-$RUN_ID"
export AP AU AG AR
ok "assignments: project" openstack project create --domain default "$AP" -f value -c id && APID=$OUT
defer openstack project delete "${APID:-$AP}"
ok "assignments: user" openstack user create --domain default --password "$PW1" "$AU" -f value -c id && AUID=$OUT
defer openstack user delete "${AUID:-$AU}"
ok "assignments: group" openstack group create --domain default "$AG" -f value -c id && AGID=$OUT
defer openstack group delete "${AGID:-$AG}"
ok "assignments: role" openstack role create "$AR" -f value -c id && ARID=$OUT
defer openstack role delete "${ARID:-$AR}"
export AUID=${AUID:-} APID=${APID:-}

ok "group add user" openstack group add user "$AG" "$AU"
expect_has "user list --group shows the member" "$AU" openstack user list --group "$AG" --domain default -f value -c Name
ok "role add member to the user on the project" \
  openstack role add --project "$AP" --project-domain default --user "$AU" --user-domain default member
ok "role add the custom role to the group on the project" \
  openstack role add --project "$AP" --project-domain default --group "$AG" --group-domain default "$AR"
assignment_roles() { # effective role names of AU on AP
  openstack role assignment list --names --effective --user "$AU" --user-domain default \
    --project "$AP" --project-domain default -f json
}
expect_json "effective assignments: member (direct), reader (implied by member), custom role (via group)" \
  '{"member", "reader", E["AR"]} <= {a["Role"].split("@")[0] for a in d} and all(a["Project"].startswith(E["AP"] + "@") for a in d) and all(a["User"].startswith(E["AU"] + "@") for a in d)' \
  assignment_roles
expect_json "direct assignments of the user: exactly member" \
  '[a["Role"].split("@")[0] for a in d] == ["member"]' \
  openstack role assignment list --names --user "$AU" --user-domain default --project "$AP" --project-domain default -f json
expect_json "group assignments: the custom role" \
  '[a["Role"].split("@")[0] for a in d] == [E["AR"]] and d[0]["Group"].startswith(E["AG"] + "@")' \
  openstack role assignment list --names --group "$AG" --group-domain default -f json

# the user, authenticated as itself
as_user() {
  local pw=$1; shift
  env -u OS_PROJECT_ID -u OS_USER_DOMAIN_ID OS_USERNAME="$AU" OS_PASSWORD="$pw" OS_PROJECT_NAME="$AP" \
    OS_PROJECT_DOMAIN_NAME=Default OS_USER_DOMAIN_NAME=Default "$@"
}
expect_json "the user gets a token scoped to the project" \
  'd["user_id"] == E["AUID"] and d["project_id"] == E["APID"]' \
  as_user "$PW1" openstack token issue -f json

# application credentials (the user's own, restricted to member)
APPC="$P-appcred"; export APPC
expect_json "application credential create" \
  'd["Name"] == E["APPC"] and d["Secret"] and d["Project ID"] == E["APID"] and d["Unrestricted"] is False and {r["name"] for r in d["Roles"]} >= {"member"}' \
  as_user "$PW1" openstack application credential create --role member --description "cli appcred" "$APPC" -f json
APPC_ID=$(jget ID)
APPC_SECRET=$(jget Secret)
with_appcred() {
  env -u OS_USERNAME -u OS_PASSWORD -u OS_USER_DOMAIN_NAME -u OS_PROJECT_NAME -u OS_PROJECT_DOMAIN_NAME \
    -u OS_PROJECT_ID -u OS_USER_DOMAIN_ID OS_AUTH_TYPE=v3applicationcredential \
    OS_APPLICATION_CREDENTIAL_ID="$APPC_ID" OS_APPLICATION_CREDENTIAL_SECRET="$APPC_SECRET" "$@"
}
expect_json "token issue with the application credential: the user, on its project" \
  'd["user_id"] == E["AUID"] and d["project_id"] == E["APID"]' \
  with_appcred openstack token issue -f json
expect_has "application credential list (as the user)" "$APPC" \
  as_user "$PW1" openstack application credential list -f value -c Name
ok "application credential delete" \
  as_user "$PW1" openstack application credential delete "$APPC_ID"
expect_fail "a deleted application credential no longer authenticates" \
  with_appcred openstack token issue

# self-service password change
ok "user password set (self-service)" \
  as_user "$PW1" openstack user password set --original-password "$PW1" --password "$PW2"
expect_eq "the new password authenticates" "${AUID:-?}" \
  as_user "$PW2" openstack token issue -f value -c user_id
expect_fail "the old password no longer authenticates" \
  as_user "$PW1" openstack token issue -f value -c user_id

ok "role remove member from the user" \
  openstack role remove --project "$AP" --project-domain default --user "$AU" --user-domain default member
expect_json "effective assignments: only the custom role via the group remains" \
  '[a["Role"].split("@")[0] for a in d] == [E["AR"]]' assignment_roles
ok "group remove user" openstack group remove user "$AG" "$AU"
expect_lacks "user list --group no longer shows the user" "$AU" openstack user list --group "$AG" --domain default -f value -c Name
expect_json "effective assignments: none left" 'd == []' assignment_roles
ok "assignments cleanup: role delete" openstack role delete "$ARID"
ok "assignments cleanup: group delete" openstack group delete "$AGID"
ok "assignments cleanup: user delete" openstack user delete "$AUID"
ok "assignments cleanup: project delete" openstack project delete "$APID"

# ------------------------------------------------------------------ catalog
AUTH_URL_NOSLASH=${OS_AUTH_URL%/}; export AUTH_URL_NOSLASH
expect_json "catalog list has an identity service" 'any(s["Type"] == "identity" for s in d)' \
  openstack catalog list -f json
expect_json "catalog show identity points at the auth URL" 'E["AUTH_URL_NOSLASH"] in json.dumps(d)' \
  openstack catalog show identity -f json
expect_json "endpoint list: the public identity endpoint is the auth URL" \
  'any(e["URL"].rstrip("/") == E["AUTH_URL_NOSLASH"] and e["Enabled"] for e in d)' \
  openstack endpoint list --service identity --interface public -f json
expect_has "service list has type identity" "identity" openstack service list -f value -c Type
expect_has "region list has the cloud's region" "${OS_REGION_NAME:-RegionOne}" openstack region list -f value -c Region

finish
