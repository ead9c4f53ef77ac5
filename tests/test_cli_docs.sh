#!/bin/sh
# test_cli_docs.sh - the documentation stays true to the program: the manual pages man/*.1 are exactly
# what tools/mkman.sh writes from the current --help texts (a new or changed option needs `make man`),
# and every page renders without groff warnings (when groff is installed).
. "$(dirname "$0")/lib.sh"
ROOT="$(dirname "$0")/.."

# ---- manual pages ------------------------------------------------------------------------------
if sh "$ROOT/tools/mkman.sh" "$CS" "$TMP/man" 2>"$TMP/mkman.err"; then ok; else bad "tools/mkman.sh failed: $(cat "$TMP/mkman.err")"; fi
for f in "$TMP"/man/*.1; do
  n=$(basename "$f")
  if [ ! -f "$ROOT/man/$n" ]; then bad "man/$n is missing (a new command?): run make man and commit man/"
  elif cmp -s "$f" "$ROOT/man/$n"; then ok
  else bad "man/$n is out of date with critsim --help: run make man and commit man/"; fi
done
for f in "$ROOT"/man/*.1; do
  n=$(basename "$f")
  if [ -f "$TMP/man/$n" ]; then ok; else bad "man/$n belongs to no command of critsim --help: remove it"; fi
done
# one page per command, and the top-level page names them all
ncmd=$("$CS" --help | awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { n++ } END { print n + 0 }')
npage=$(ls "$TMP"/man/critsim-*.1 | wc -l)
if [ "$ncmd" -ge 6 ] && [ "$npage" -eq "$ncmd" ]; then ok; else bad "man pages: $npage for $ncmd commands"; fi
# every option of every command appears in its page (checks the parser of tools/mkman.sh)
for c in $("$CS" --help | awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 }'); do
  "$CS" "$c" --help | awk '/^  --/ { print $1 }' | sed 's/-/\\\\-/g' > "$TMP/opts"
  miss=""
  while read -r o; do grep -q "^\\\\fB$o\\\\fR" "$TMP/man/critsim-$c.1" || miss="$miss $o"; done < "$TMP/opts"
  if [ -z "$miss" ]; then ok; else bad "critsim-$c.1 lacks options:$miss"; fi
done
if command -v groff >/dev/null 2>&1; then
  for f in "$ROOT"/man/*.1; do
    w=$(groff -man -ww -z "$f" 2>&1)
    if [ -z "$w" ]; then ok; else bad "groff warns on $(basename "$f"): $w"; fi
  done
fi
done_checks test_cli_docs
