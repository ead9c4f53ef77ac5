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
  # a directory is not a model file (it used to read as an empty one); no control characters in values
  expect_exit 2 "$c --model DIR" "$CS" "$c" --model "$TMP" --out "$TMP/o"
  expect_grep "$c --model DIR named" "'$TMP' is a directory" "$TMP/err"
  expect_exit 2 "$c newline in a value" "$CS" "$c" --out "$TMP/a
b"
  expect_grep "$c newline named" 'control character \(0x0a\)' "$TMP/err"
done
# model files Debian's libinih would misread: a line of 199+ characters (split, the rest read as a
# line of its own) and an indented line (read as a continuation of the previous value)
if "$CS" --help | grep -q '^  modes'; then
  M=$TMP/long.ini
  { printf '#%0196d' 0; echo 'steps = 3'; } >"$M"
  expect_exit 2 "model line of 206 characters" "$CS" modes --model "$M" --out "$TMP/r"
  expect_grep "long line named" "long.ini:1: line of 206 characters" "$TMP/err"
  printf 'steps = 100\n   7\n' >"$M"
  expect_exit 2 "indented continuation line" "$CS" modes --model "$M" --out "$TMP/r"
  expect_grep "continuation named" "long.ini:2: indented line" "$TMP/err"
  printf 'steps = 10\nout = %s/r\001x\n' "$TMP" >"$M"
  expect_exit 2 "control character in a model file" "$CS" modes --model "$M"
  expect_grep "control character named" "long.ini:2: control character 0x01" "$TMP/err"
  [ ! -e "$TMP/r" ] && ok || bad "a refused model file still wrote $TMP/r"
fi
# a bare argument is the run folder of analyze (contract: critsim analyze RUN_DIR)
if "$CS" --help | grep -q '^  analyze'; then
  expect_exit 2 "analyze missing run folder" "$CS" analyze "$TMP/no-such-run"
  expect_grep "analyze names the folder" "no-such-run" "$TMP/err"
  expect_exit 2 "analyze two run folders" "$CS" analyze "$TMP/a" "$TMP/b"
fi
done_checks test_cli_main
