#!/bin/sh
# test_cli_docs.sh - the documentation stays true to the program and to itself:
#  - the manual pages man/*.1 are exactly what tools/mkman.sh writes from the current --help texts (a
#    new or changed option needs `make man`), and render without groff warnings (when groff is there);
#  - every citation `docs/FILE.md#anchor` anywhere in the repository, and every relative link between
#    the Markdown documents, resolves: FILE exists and has a heading whose GitHub-style slug is anchor;
#  - nothing cites a document outside the repository (the design notes the project was built from, or
#    their lettered section numbers): the project explains itself in docs/.
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
# ---- citations resolve ---------------------------------------------------------------------------
# the repository's text files (git's list when this is a checkout, else every file but build outputs)
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$ROOT" && git ls-files) > "$TMP/files"
else
  (cd "$ROOT" && find . -type f ! -path './build/*' ! -path './results/*' ! -path './.git/*' | sed 's|^\./||') > "$TMP/files"
fi
# slugs FILE: the GitHub anchors of FILE's headings (outside code fences): lower case, characters other
# than letters, digits, '_', '-' and spaces dropped, spaces -> '-'; a repeated slug gets -1, -2, ...
slugs() {
  awk '/^```/ { fence = !fence; next }
       !fence && /^#+ / { h = $0; sub(/^#+ +/, "", h); h = tolower(h); gsub(/[^a-z0-9 _-]/, "", h); gsub(/ /, "-", h)
                          n = seen[h]++; print (n ? h "-" n : h) }' "$1"
}
# cites: "CITING_FILE TARGET" for `docs/X.md#a` anywhere, `docs/X.md` mentions, and relative Markdown
# links `](X.md#a)`, `](#a)` inside docs/*.md and README.md (resolved against the citing file's folder)
cd "$ROOT" || exit 1
while read -r f; do
  [ -f "$f" ] || continue
  grep -I -o -E 'docs/[A-Za-z0-9_-]+\.md(#[A-Za-z0-9_-]+)?' "$f" 2>/dev/null | sed "s|^|$f |"
  case "$f" in
    *.md) d=$(dirname "$f")
          grep -o -E '\]\([A-Za-z0-9_./-]*(#[A-Za-z0-9_-]+)?\)' "$f" | sed -e 's/^](//' -e 's/)$//' |
            grep -v -E '^(https?:|mailto:)' | while read -r l; do
              case "$l" in '#'*) echo "$f $f$l" ;; *) echo "$f $d/$l" | sed 's|/\./|/|; s| \./| |' ;; esac
            done ;;
  esac
done < "$TMP/files" > "$TMP/cites"
cd - >/dev/null || exit 1
ncite=0; nbad=0
while read -r from target; do
  case "$target" in docs/[A-Z]*.md*) continue ;; esac # placeholders in prose (docs/FILE.md#anchor)
  file=${target%%#*}; anchor=""; case "$target" in *'#'*) anchor=${target#*#} ;; esac
  ncite=$((ncite + 1))
  if [ ! -f "$ROOT/$file" ]; then bad "$from cites $target: $file does not exist"; nbad=$((nbad + 1)); continue; fi
  if [ -n "$anchor" ] && ! slugs "$ROOT/$file" | grep -q -x -- "$anchor"; then
    bad "$from cites $target: no heading of $file has the anchor #$anchor"; nbad=$((nbad + 1)); continue
  fi
done < "$TMP/cites"
if [ "$nbad" -eq 0 ] && [ "$ncite" -ge 10 ]; then ok; elif [ "$nbad" -eq 0 ]; then bad "only $ncite citations found (the scan is broken?)"; fi
# the three documents exist and a known anchor resolves (checks slugs() itself)
for d in theory formats design; do if [ -s "$ROOT/docs/$d.md" ]; then ok; else bad "docs/$d.md is missing"; fi; done
if slugs "$ROOT/docs/formats.md" | grep -q -x 'snapshots-snap'; then ok; else bad "slug of '## Snapshots (snap/)' is not snapshots-snap"; fi

# ---- nothing cites outside the repository -------------------------------------------------------------
# patterns assembled from pieces so that this file does not match itself
p1='\.\./''shared'; p2='(papers|contracts|style)''\.md'; p3='spec [A-F]''\.[0-9]'
p4='(^|[^A-Za-z0-9_.])[A-F]''\.[0-9]+(-[A-F]?[0-9.]+)?([^0-9A-Za-z]|$)'
out=""
while read -r f; do
  case "$f" in *.npy|*.gz|*.bin|*.png|*.pdf|tests/data/*.txt) continue ;; esac
  [ -f "$ROOT/$f" ] || continue
  hit=$(grep -I -n -E "$p1|$p2|$p3|$p4" "$ROOT/$f" 2>/dev/null | head -n 3)
  [ -n "$hit" ] && out="$out
$f: $hit"
done < "$TMP/files"
if [ -z "$out" ]; then ok; else bad "citations of documents outside the repository (cite docs/FILE.md#anchor instead):$out"; fi

done_checks test_cli_docs
