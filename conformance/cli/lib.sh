# shellcheck shell=bash
# Assertion helpers for conformance/cli/<service>.sh scenarios. Sourced, never run.
#
# The runner (conformance/cli/run) exports CONFORMANCE_OPENRC (admin credentials),
# OS_CLIENT_CONFIG_FILE, CONFORMANCE_PY (venv python) and puts build/venv/bin first on
# PATH, so `openstack` is the pinned python-openstackclient.
#
# Every step runs a real command and asserts on its OUTPUT, not only its exit code:
#   ok          DESC CMD...            exit 0 (stdout kept in $OUT)
#   expect_eq   DESC EXPECTED CMD...   stdout, trimmed, equals EXPECTED
#   expect_has  DESC LINE CMD...       one stdout line equals LINE
#   expect_lacks DESC LINE CMD...      no stdout line equals LINE (and exit 0)
#   expect_json DESC PYEXPR CMD...     stdout parsed as JSON into `d`; PYEXPR (Python) is true.
#                                      `E` is os.environ: export shell variables to use them.
#   expect_fail DESC CMD...            non-zero exit
#   jget KEY                           field KEY of the JSON object in $OUT
#   defer CMD...                       run CMD at exit (reverse order), errors ignored
# A failing step prints the command, what was expected and what came back; the scenario
# goes on and exits 1 at the end (`finish`).

set -u
# shellcheck disable=SC1090
. "${CONFORMANCE_OPENRC:?run scenarios through conformance/cli/run}"
PY=${CONFORMANCE_PY:-python3}
STEPS=0
FAILS=0
_DEFERRED=()
_ERRF=$(mktemp)
RUN_ID=$(date +%H%M%S)$$
export RUN_ID

_show_cmd() { printf '%q ' "$@"; }

_run() {
  OUT=$("$@" 2>"$_ERRF")
  RC=$?
  ERR=$(tail -c 2000 "$_ERRF")
}

_pass() {
  STEPS=$((STEPS + 1))
  printf 'ok    %s\n' "$1"
}

_fail() { # desc, command, expected, actual
  STEPS=$((STEPS + 1))
  FAILS=$((FAILS + 1))
  printf 'FAIL  %s\n  command:  %s\n  expected: %s\n  actual:   %s\n' "$1" "$2" "$3" "$4"
  if [ -n "${ERR:-}" ]; then printf '  stderr:   %s\n' "$ERR"; fi
}

_actual() { printf 'exit %s, stdout: %s' "$RC" "${OUT:-<empty>}"; }

ok() {
  local desc=$1; shift
  _run "$@"
  if [ "$RC" -eq 0 ]; then _pass "$desc"; return 0; fi
  _fail "$desc" "$(_show_cmd "$@")" "exit 0" "$(_actual)"
  return 1
}

expect_eq() {
  local desc=$1 want=$2; shift 2
  _run "$@"
  local got
  got=$(printf '%s' "$OUT" | sed -e 's/[[:space:]]*$//')
  if [ "$RC" -eq 0 ] && [ "$got" = "$want" ]; then _pass "$desc"; return 0; fi
  _fail "$desc" "$(_show_cmd "$@")" "exit 0, stdout: $want" "$(_actual)"
  return 1
}

expect_has() {
  local desc=$1 want=$2; shift 2
  _run "$@"
  if [ "$RC" -eq 0 ] && printf '%s\n' "$OUT" | sed -e 's/[[:space:]]*$//' | grep -Fxq -- "$want"; then
    _pass "$desc"; return 0
  fi
  _fail "$desc" "$(_show_cmd "$@")" "exit 0, a line: $want" "$(_actual)"
  return 1
}

expect_lacks() {
  local desc=$1 unwanted=$2; shift 2
  _run "$@"
  if [ "$RC" -eq 0 ] && ! printf '%s\n' "$OUT" | sed -e 's/[[:space:]]*$//' | grep -Fxq -- "$unwanted"; then
    _pass "$desc"; return 0
  fi
  _fail "$desc" "$(_show_cmd "$@")" "exit 0, no line: $unwanted" "$(_actual)"
  return 1
}

# _json_verdict EXPR: "yes" when EXPR holds of the JSON in $OUT (as d), else why not.
_json_verdict() {
  printf '%s' "$OUT" | "$PY" -c '
import json, os, sys
E = os.environ
try:
    d = json.loads(sys.stdin.read())
except ValueError as e:
    print("not JSON: %s" % e); sys.exit(0)
try:
    print("yes" if eval(sys.argv[1]) else "no")
except Exception as e:
    print("%s: %s" % (type(e).__name__, e))
' "$1"
}

expect_json() {
  local desc=$1 expr=$2; shift 2
  _run "$@"
  local verdict
  if [ "$RC" -eq 0 ]; then
    verdict=$(_json_verdict "$expr")
    if [ "$verdict" = yes ]; then _pass "$desc"; return 0; fi
  else
    verdict="command failed"
  fi
  _fail "$desc" "$(_show_cmd "$@")" "exit 0, JSON where: $expr" "$(_actual) [$verdict]"
  return 1
}

# eventually_json DESC SECS EXPR CMD...: expect_json, retried every second for up to SECS
# seconds (for what a service updates asynchronously, as Nova's cached addresses after a
# change made in Neutron).
eventually_json() {
  local desc=$1 secs=$2 expr=$3 i; shift 3
  for ((i = 1; i < secs; i++)); do
    _run "$@"
    [ "$RC" -eq 0 ] && [ "$(_json_verdict "$expr")" = yes ] && break
    sleep 1
  done
  expect_json "$desc" "$expr" "$@"
}

expect_fail() {
  local desc=$1; shift
  _run "$@"
  if [ "$RC" -ne 0 ]; then _pass "$desc"; return 0; fi
  _fail "$desc" "$(_show_cmd "$@")" "non-zero exit" "$(_actual)"
  return 1
}

jget() {
  printf '%s' "$OUT" | "$PY" -c 'import json,sys; v=json.loads(sys.stdin.read()).get(sys.argv[1]); print("" if v is None else v)' "$1" 2>/dev/null
}

defer() { _DEFERRED+=("$(_show_cmd "$@")"); }

_run_deferred() {
  local i
  for ((i = ${#_DEFERRED[@]} - 1; i >= 0; i--)); do
    eval "${_DEFERRED[$i]}" >/dev/null 2>&1 || true
  done
  rm -f "$_ERRF"
}
trap _run_deferred EXIT

finish() {
  printf '%s: %d steps, %d failed\n' "${SCENARIO:-scenario}" "$STEPS" "$FAILS"
  [ "$FAILS" -eq 0 ]
  exit $?
}
