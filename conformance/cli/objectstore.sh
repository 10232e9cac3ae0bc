#!/usr/bin/env bash
# Object storage (Swift v1) through the real `openstack` CLI. Run by conformance/cli/run.
# Semantics are those of the real Swift: every expectation below holds against it.
SCENARIO=objectstore
# shellcheck source=conformance/cli/lib.sh
. "${CONFORMANCE_LIB:-$(dirname "$0")/lib.sh}"

P="cli-$RUN_ID"
export P
WORK=$(mktemp -d)
defer rm -rf "$WORK"

# ------------------------------------------------------------------ containers
C="$P-cont"; export C
expect_json "container create" 'd[0]["container"] == E["C"]' \
  openstack container create "$C" -f json
defer openstack container delete "$C"
expect_has "container list" "$C" openstack container list -f value -c Name
expect_has "container list --prefix" "$C" openstack container list --prefix "$P" -f value -c Name
ok "container set --property" openstack container set --property color=blue --property "cli_key=cli value" "$C"
expect_json "container show: zero objects, the properties" \
  'd["container"] == E["C"] and int(d["object_count"]) == 0 and int(d["bytes_used"]) == 0 and d["properties"].get("Color", d["properties"].get("color")) == "blue"' \
  openstack container show "$C" -f json
ok "container unset --property" openstack container unset --property color "$C"
expect_json "container show after unset" \
  '"color" not in {k.lower() for k in d.get("properties", {})}' \
  openstack container show "$C" -f json

# ------------------------------------------------------------------ objects
SRC="$WORK/hello.txt"
head -c 200000 /dev/urandom | base64 >"$SRC"
SRC_SIZE=$(stat -c %s "$SRC")
SRC_MD5=$(md5sum "$SRC" | cut -d' ' -f1)
export SRC_SIZE SRC_MD5 SRC
cd "$WORK" || exit 1
expect_json "object create: the etag is the md5" \
  'd[0]["object"] == "hello.txt" and d[0]["container"] == E["C"] and d[0]["etag"] == E["SRC_MD5"]' \
  openstack object create "$C" hello.txt -f json
defer openstack object delete "$C" hello.txt
expect_json "object create --name (pseudo-folder)" 'd[0]["object"] == "dir/renamed.txt"' \
  openstack object create --name dir/renamed.txt "$C" hello.txt -f json
defer openstack object delete "$C" dir/renamed.txt
expect_has "object list" "hello.txt" openstack object list "$C" -f value -c Name
expect_has "object list --prefix" "dir/renamed.txt" openstack object list --prefix dir/ "$C" -f value -c Name
expect_json "object list --delimiter: the pseudo-folder" \
  'any(o.get("Name") == "hello.txt" for o in d) and not any(o.get("Name") == "dir/renamed.txt" for o in d)' \
  openstack object list --delimiter / "$C" -f json
expect_json "object show: size, etag, content type" \
  'int(d["content-length"]) == int(E["SRC_SIZE"]) and d["etag"] == E["SRC_MD5"] and d["content-type"] == "text/plain"' \
  openstack object show "$C" hello.txt -f json
ok "object set --property" openstack object set --property owner=cli "$C" hello.txt
expect_json "object show after set" \
  'd.get("properties", {}).get("Owner", d.get("properties", {}).get("owner")) == "cli"' \
  openstack object show "$C" hello.txt -f json
ok "object unset --property" openstack object unset --property owner "$C" hello.txt
expect_json "object show after unset" '"owner" not in {k.lower() for k in d.get("properties", {})}' \
  openstack object show "$C" hello.txt -f json
expect_json "container show counts the objects" \
  'int(d["object_count"]) == 2 and int(d["bytes_used"]) == 2 * int(E["SRC_SIZE"])' \
  openstack container show "$C" -f json

# ------------------------------------------------------------------ download
OUTF="$WORK/saved.txt"
ok "object save --file" openstack object save --file "$OUTF" "$C" hello.txt
ok "the saved bytes equal the uploaded bytes" cmp "$SRC" "$OUTF"
expect_eq "md5 of the saved file" "$SRC_MD5" sh -c 'md5sum "$1" | cut -d" " -f1' _ "$OUTF"

# ------------------------------------------------------------------ delete
expect_fail "a container with objects cannot be deleted" openstack container delete "$C"
ok "object delete" openstack object delete "$C" hello.txt dir/renamed.txt
expect_fail "object show after delete" openstack object show "$C" hello.txt
expect_lacks "object list after delete" "hello.txt" openstack object list "$C" -f value -c Name
ok "container delete" openstack container delete "$C"
expect_lacks "container list after delete" "$C" openstack container list -f value -c Name
expect_fail "container show after delete" openstack container show "$C"

finish
