# tests/lib.sh - helpers for shell tests of the critsim command (sourced by tests/test_*.sh).
# Each check counts once; failures print "FAIL name: why"; finish with `done_checks NAME`.
CS=${CRITSIM:-./critsim}
PASS=0; FAIL=0
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
ok()   { PASS=$((PASS + 1)); }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL $1"; }
# expect_exit STATUS NAME CMD...: the command exits with STATUS and (for STATUS 2) prints exactly one
# line on stderr that starts with "critsim".
expect_exit() {
  want=$1; name=$2; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"; got=$?
  if [ "$got" -ne "$want" ]; then bad "$name: exit $got, want $want ($(head -c 200 "$TMP/err"))"; return; fi
  if [ "$want" -eq 2 ]; then
    n=$(wc -l <"$TMP/err")
    if [ "$n" -ne 1 ] || ! grep -q '^critsim' "$TMP/err"; then bad "$name: stderr is not one 'critsim ...' line: $(cat "$TMP/err")"; return; fi
  fi
  ok
}
# expect_grep NAME PATTERN FILE
expect_grep() { if grep -q -E -- "$2" "$3"; then ok; else bad "$1: /$2/ not in $3"; fi; }
done_checks() { echo "$1: $PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; }
