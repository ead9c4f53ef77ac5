#!/bin/sh
# test_cli_main.sh - the command dispatcher: help, version, unknown commands.
. tests/lib.sh
expect_exit 0 "--version" "$CS" --version
expect_grep "version string" '^critsim [0-9]+\.[0-9]+\.[0-9]+$' "$TMP/out"
expect_exit 0 "--help" "$CS" --help
expect_grep "help lists exit statuses" 'exit status' "$TMP/out"
expect_exit 2 "unknown command" "$CS" frobnicate
expect_grep "unknown command named" "frobnicate" "$TMP/err"
"$CS" >/dev/null 2>"$TMP/err"; rc=$?
if [ "$rc" -eq 2 ] && grep -q usage "$TMP/err"; then ok; else bad "no arguments: exit $rc, want 2 with usage"; fi
# every registered command answers --help with exit 0 and lists --model
for c in $("$CS" --help | awk '/^commands:/{f=1;next} f&&/^  [a-z]/{print $1}'); do
  expect_exit 0 "$c --help" "$CS" "$c" --help
  expect_grep "$c --help lists --model" '--model' "$TMP/out"
  expect_exit 2 "$c unknown option" "$CS" "$c" --no-such-option
done
# a bare argument is the run folder of analyze (contract: critsim analyze RUN_DIR)
if "$CS" --help | grep -q '^  analyze'; then
  expect_exit 2 "analyze missing run folder" "$CS" analyze "$TMP/no-such-run"
  expect_grep "analyze names the folder" "no-such-run" "$TMP/err"
  expect_exit 2 "analyze two run folders" "$CS" analyze "$TMP/a" "$TMP/b"
fi
done_checks test_cli_main
