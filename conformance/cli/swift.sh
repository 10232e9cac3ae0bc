#!/usr/bin/env bash
# Object storage (Swift v1) through the real `swift` CLI (python-swiftclient), authenticated
# with Keystone v3 from the OS_* variables. Run by conformance/cli/run.
# Semantics are those of the real Swift: every expectation below holds against it. Container
# statistics are checked (the object server updates them on each PUT); account object and
# byte counts are not (Swift's container updater reports them later).
SCENARIO=swift
# shellcheck source=conformance/cli/lib.sh
. "${CONFORMANCE_LIB:-$(dirname "$0")/lib.sh}"

P="swift-$RUN_ID"
C="$P-cont"
SEG="${C}_segments"
KEY="tempurl-$RUN_ID-key"
BIG_SIZE=$((100 * 1024 * 1024))
export P C SEG KEY BIG_SIZE
WORK=$(mktemp -d)
defer rm -rf "$WORK"

# `swift stat` prints "Key: value" lines; this turns them into a JSON object for expect_json.
swift_stat_json() {
  local out
  out=$(swift stat "$@") || return 1
  printf '%s\n' "$out" | "$PY" -c '
import json, sys
d = {}
for line in sys.stdin:
    k, sep, v = line.partition(":")
    if sep:
        d[k.strip()] = v.strip()
print(json.dumps(d))'
}

# Status code of an anonymous request (no token); the body goes to $2 (or nowhere).
anon_status() {
  curl -s -o "${2:-/dev/null}" -w '%{http_code}' "$1"
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# ------------------------------------------------------------------ auth
# `swift auth` exchanges the OS_* credentials (Keystone v3) for a token and the storage URL.
ok "swift auth (Keystone v3 from OS_* variables)" swift auth
SURL=$(printf '%s\n' "$OUT" | sed -n 's/^export OS_STORAGE_URL=//p')
ACCOUNT_PATH=$(printf '%s' "$SURL" | sed -E 's#^https?://[^/]+##')
SHOST=${SURL%"$ACCOUNT_PATH"}
export SURL ACCOUNT_PATH
expect_eq "the storage URL ends in /v1/AUTH_<project id>" yes \
  sh -c 'case "$1" in */v1/AUTH_?*) echo yes ;; *) echo "no: $1" ;; esac' _ "$SURL"
expect_json "swift stat (account)" \
  'd["Account"] == E["ACCOUNT_PATH"].rsplit("/", 1)[1] and int(d["Containers"]) >= 0' \
  swift_stat_json

# ------------------------------------------------------------------ containers
ok "swift post creates a container" swift post "$C"
defer swift delete "$C"
defer swift delete "$SEG"
expect_json "swift stat (container): empty, private" \
  'd["Container"] == E["C"] and int(d["Objects"]) == 0 and int(d["Bytes"]) == 0 and d.get("Read ACL", "") == ""' \
  swift_stat_json "$C"
expect_has "swift list (account) shows the container" "$C" swift list

# ------------------------------------------------------------------ segmented uploads
BIG="$WORK/big.bin"
head -c "$BIG_SIZE" /dev/urandom >"$BIG"
BIG_SHA=$(sha256 "$BIG")
export BIG_SHA
# swiftclient 4 makes a static large object by default when /info lists `slo`; --use-dlo
# asks for the older dynamic kind (a manifest naming a segment prefix).
ok "swift upload --segment-size 10M --use-dlo (dynamic large object)" \
  swift upload --segment-size 10M --use-dlo --object-name dlo.bin "$C" "$BIG"
ok "swift upload --segment-size 10M --use-slo (static large object)" \
  swift upload --segment-size 10M --use-slo --object-name slo.bin "$C" "$BIG"
expect_json "swift stat (object, DLO): full length, manifest under the segments container" \
  'int(d["Content Length"]) == int(E["BIG_SIZE"]) and d["Manifest"].startswith(E["SEG"] + "/dlo.bin/")' \
  swift_stat_json "$C" dlo.bin
expect_json "swift stat (object, SLO): full length, a static large object" \
  'int(d["Content Length"]) == int(E["BIG_SIZE"]) and d.get("X-Static-Large-Object", "").lower() == "true"' \
  swift_stat_json "$C" slo.bin
expect_json "swift stat (container): two manifests" 'int(d["Objects"]) == 2' swift_stat_json "$C"
expect_json "swift stat (segments container): 2 x 10 segments, 200 MiB" \
  'int(d["Objects"]) == 20 and int(d["Bytes"]) == 2 * int(E["BIG_SIZE"])' \
  swift_stat_json "$SEG"
expect_has "swift list shows the DLO" "dlo.bin" swift list "$C"
expect_has "swift list shows the SLO" "slo.bin" swift list "$C"
expect_eq "swift list --prefix: ten DLO segments" 10 \
  sh -c 'swift list --prefix dlo.bin/ "$1" | wc -l' _ "$SEG"
expect_eq "swift list --prefix: ten SLO segments" 10 \
  sh -c 'swift list --prefix slo.bin/ "$1" | wc -l' _ "$SEG"

# ------------------------------------------------------------------ downloads
ok "swift download (DLO)" swift download -o "$WORK/dlo.out" "$C" dlo.bin
ok "the DLO bytes equal the uploaded file" cmp "$BIG" "$WORK/dlo.out"
ok "swift download (SLO)" swift download -o "$WORK/slo.out" "$C" slo.bin
expect_eq "sha256 of the SLO download" "$BIG_SHA" sha256 "$WORK/slo.out"
rm -f "$WORK/dlo.out" "$WORK/slo.out"

# ------------------------------------------------------------------ temp URLs (private container)
SMALL="$WORK/small.txt"
head -c 4096 /dev/urandom | base64 >"$SMALL"
ok "swift upload (small object)" swift upload --object-name small.txt "$C" "$SMALL"
expect_eq "anonymous GET of an object in a private container is 401" 401 \
  anon_status "$SURL/$C/small.txt"
ok "swift post -m Temp-URL-Key (account)" swift post -m "Temp-URL-Key:$KEY"
defer swift post -m Temp-URL-Key:
expect_json "swift stat (account) shows the key" \
  '{k.lower(): v for k, v in d.items()}.get("meta temp-url-key") == E["KEY"]' \
  swift_stat_json
ok "swift tempurl GET 600" swift tempurl GET 600 "$ACCOUNT_PATH/$C/slo.bin" "$KEY"
TEMPURL=$(printf '%s' "$OUT" | tail -n 1)
expect_eq "the temp URL signs the object path" yes \
  sh -c 'case "$1" in "$2"\?temp_url_sig=*temp_url_expires=*) echo yes ;; *) echo "no: $1" ;; esac' \
  _ "$TEMPURL" "$ACCOUNT_PATH/$C/slo.bin"
expect_eq "GET through the temp URL without a token is 200" 200 \
  anon_status "$SHOST$TEMPURL" "$WORK/temp.out"
expect_eq "the temp URL serves the whole SLO" "$BIG_SHA" sha256 "$WORK/temp.out"
rm -f "$WORK/temp.out"
BADSIG=$(printf '%s' "$TEMPURL" | "$PY" -c '
import re, sys
u = sys.stdin.read()
print(re.sub(r"temp_url_sig=([0-9a-f])", lambda m: "temp_url_sig=" + ("1" if m.group(1) != "1" else "2"), u))')
expect_eq "a wrong signature is 401" 401 anon_status "$SHOST$BADSIG"
ok "swift tempurl GET 600 (small object)" swift tempurl GET 600 "$ACCOUNT_PATH/$C/small.txt" "$KEY"
TEMPURL=$(printf '%s' "$OUT" | tail -n 1)
expect_eq "a GET temp URL does not allow PUT" 401 \
  curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary x "$SHOST$TEMPURL"
expect_eq "temp URL of the small object is 200" 200 anon_status "$SHOST$TEMPURL" "$WORK/small.out"
ok "the temp URL serves the small object's bytes" cmp "$SMALL" "$WORK/small.out"

# ------------------------------------------------------------------ public read ACL
ok "swift post -r .r:* (container)" swift post -r '.r:*' "$C"
expect_json "swift stat (container) shows the read ACL" 'd["Read ACL"] == ".r:*"' swift_stat_json "$C"
expect_eq "anonymous GET of the object is now 200" 200 anon_status "$SURL/$C/small.txt" "$WORK/anon.out"
ok "the anonymous read returns the object's bytes" cmp "$SMALL" "$WORK/anon.out"
expect_eq "anonymous listing without .rlistings is still 401" 401 anon_status "$SURL/$C"
ok "swift post -r '' (container private again)" swift post -r '' "$C"
expect_eq "anonymous GET is 401 again" 401 anon_status "$SURL/$C/small.txt"

# ------------------------------------------------------------------ deletes remove the segments
ok "swift delete (DLO)" swift delete "$C" dlo.bin
expect_eq "the DLO's segments are gone" "" swift list --prefix dlo.bin/ "$SEG"
expect_lacks "swift list after deleting the DLO" "dlo.bin" swift list "$C"
ok "swift delete (SLO)" swift delete "$C" slo.bin
expect_eq "the SLO's segments are gone" "" swift list --prefix slo.bin/ "$SEG"
expect_json "swift stat (segments container): empty" \
  'int(d["Objects"]) == 0 and int(d["Bytes"]) == 0' swift_stat_json "$SEG"
expect_fail "swift stat of a deleted object fails" swift stat "$C" slo.bin
ok "swift delete (container with its objects)" swift delete "$C"
ok "swift delete (segments container)" swift delete "$SEG"
expect_lacks "swift list (account) after delete" "$C" swift list

finish
