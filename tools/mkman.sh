#!/bin/sh
# tools/mkman.sh - write critsim's manual pages, in git's style, from the --help texts.
#
#   sh tools/mkman.sh [CRITSIM [OUTDIR]]      (defaults: ./critsim, man)
#
# Writes OUTDIR/critsim.1 from `critsim --help` and OUTDIR/critsim-CMD.1 from `critsim CMD --help` for
# every command that `critsim --help` lists.  The pages hold nothing but the help texts and a few fixed
# sentences (no date), so they are a pure function of the binary: `make man` regenerates them and
# tests/test_cli_docs.sh fails when a committed page differs from what this script writes.  A new or
# changed option therefore needs only `make man` and a commit of man/.
#
# --help layout this parser relies on (src/cli/opts.c, opts_help): line 1 "usage: ...", line 2 the
# one-line summary, "options (default in brackets):", then one line per option
# "  --NAME[ ARG]  help [DEFAULT][ (repeatable)][ (range R)]" with ARG one of N X S FILE SPEC A,B,..
# and R the declared range of its numbers (opts_range_text: "1..100", ">= 0", "> 0", "any"), then
# optionally a blank line and free text (examples, notes), reproduced verbatim.
set -eu
CS=${1:-./critsim}
OUT=${2:-man}
mkdir -p "$OUT"
version=$("$CS" --version | awk '{ print $2 }')

# In the awk programs below, esc() roff-escapes a line: backslash -> \e, '-' -> \- (a minus sign,
# as options need), a leading '.' or "'" protected by \&.
# one page from a command's --help on stdin
page() { # NAME (critsim-flow) CMD (flow); $cmds: every command, for SEE ALSO
  awk -v name="$1" -v cmd="$2" -v version="$version" -v cmds="$cmds" '
  function esc(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); if (s ~ /^[.\x27]/) s = "\\&" s; return s }
  NR == 1 { usage = $0; sub(/^usage: /, "", usage); next }
  NR == 2 { summary = $0; next }
  /^options \(default in brackets\):$/ { inopt = 1; next }
  inopt && /^$/ { inopt = 0; intext = 1; next }
  inopt && /^  \(/ { s = $0; sub(/^  /, "", s); optnote = s; next }
  inopt && /^  --/ {
    s = $0; sub(/^  /, "", s)
    opt = s; sub(/ .*/, "", opt); rest = substr(s, length(opt) + 1)
    arg = ""
    if (match(rest, /^ (N|X|S|FILE|SPEC|A,B,\.\.) /)) { arg = substr(rest, 2, RLENGTH - 2); rest = substr(rest, RLENGTH) }
    sub(/^ +/, "", rest)
    rng = ""; if (match(rest, / \(range [^()]*\)$/)) { rng = substr(rest, RSTART + 8, RLENGTH - 9); rest = substr(rest, 1, RSTART - 1) }
    rep = 0; if (rest ~ / \(repeatable\)$/) { rep = 1; sub(/ \(repeatable\)$/, "", rest) }
    def = ""; if (match(rest, / \[[^][]*\]$/)) { def = substr(rest, RSTART + 2, RLENGTH - 3); rest = substr(rest, 1, RSTART - 1) }
    nopt++; O[nopt] = opt; A[nopt] = arg; H[nopt] = rest; D[nopt] = def; R[nopt] = rep; G[nopt] = rng
    next
  }
  inopt { printf "mkman.sh: %s --help: unexpected option line: %s\n", cmd, $0 > "/dev/stderr"; bad = 1; exit 1 }
  intext { ntext++; T[ntext] = $0; next }
  END {
    if (bad) exit 1
    if (nopt == 0) { printf "mkman.sh: %s --help lists no options\n", cmd > "/dev/stderr"; exit 1 }
    up = toupper(name)
    printf ".TH \"%s\" \"1\" \"\" \"critsim %s\" \"critsim Manual\"\n", esc(up), version
    print ".nh\n.ad l"
    print ".SH \"NAME\""
    printf "%s \\- %s\n", esc(name), esc(summary)
    print ".SH \"SYNOPSIS\"\n.sp\n.nf"
    printf "\\fI%s\\fR\n", esc(usage)
    print ".fi\n.sp\n.SH \"DESCRIPTION\""
    printf "%s.\n", esc(toupper(substr(summary, 1, 1)) substr(summary, 2))
    print ".sp"
    print "Options are read from the built\\-in defaults, then from the model file given with \\fB\\-\\-model\\fR"
    print "(an INI file whose keys are the long option names), then from the command line: a later source wins."
    print "Lists are comma\\-separated.  See \\fBcritsim\\fR(1) for the conventions every command shares"
    print "(steps, deficit windows, tables, exit status) and docs/formats.md in the source tree for every"
    print "table this command writes."
    print ".SH \"OPTIONS\""
    if (optnote != "") { printf "%s\n", esc(optnote); print ".sp" }
    for (i = 1; i <= nopt; i++) {
      print ".PP"
      if (A[i] != "") printf "\\fB%s\\fR \\fI%s\\fR\n", esc(O[i]), esc(A[i])
      else printf "\\fB%s\\fR\n", esc(O[i])
      print ".RS 4"
      printf "%s\n", esc(H[i])
      if (D[i] != "" && D[i] != "unset" && D[i] != "off") printf ".sp\nDefault: %s.\n", esc(D[i])
      if (G[i] != "") printf ".sp\nRange: %s.\n", esc(G[i] == "any" ? "any finite number" : G[i])
      if (R[i]) print ".sp\nRepeatable; every occurrence adds to the list."
      print ".RE"
    }
    if (ntext > 0) {
      print ".SH \"NOTES AND EXAMPLES\"\n.sp\n.if n \\{\\\n.RS 4\n.\\}\n.nf"
      for (i = 1; i <= ntext; i++) printf "%s\n", esc(T[i])
      print ".fi\n.if n \\{\\\n.RE\n.\\}"
    }
    print ".SH \"EXIT STATUS\""
    print "0 success; 1 a run failed numerically (a non\\-finite state; the message and the tables name the"
    print "step); 2 bad usage or bad input, with one line on standard error naming the problem and the fix."
    print ".SH \"SEE ALSO\""
    printf "\\fBcritsim\\fR(1)"
    nc = split(cmds, C, /[ \n]+/)
    for (i = 1; i <= nc; i++) if (C[i] != "" && C[i] != cmd) printf ", \\fBcritsim\\-%s\\fR(1)", C[i]
    print ""
    print ".SH \"CRITSIM\""
    print "Part of the \\fBcritsim\\fR(1) suite"
  }' 
}

"$CS" --help > "$OUT/.help.$$"
cmds=$(awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 } f && /^$/ { f = 0 }' "$OUT/.help.$$")
[ -n "$cmds" ] || { echo "mkman.sh: $CS --help lists no commands" >&2; exit 1; }

# critsim.1: the top-level help
awk -v version="$version" -v cmds="$cmds" '
  function esc(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); if (s ~ /^[.\x27]/) s = "\\&" s; return s }
  NR == 1 { title = $0; sub(/^critsim [^ ]* - /, "", title); next }
  /^usage: / { usage = $0; sub(/^usage: /, "", usage); next }
  /^commands:$/ { inc = 1; next }
  inc && /^  [a-z]/ { n++; C[n] = $1; s = $0; sub(/^  [a-z]+ +/, "", s); S[n] = s; next }
  inc && /^$/ { inc = 0; next }
  /^exit status: / { ex = $0; sub(/^exit status: /, "", ex); next }
  END {
    print ".TH \"CRITSIM\" \"1\" \"\" \"critsim " version "\" \"critsim Manual\""
    print ".nh\n.ad l"
    print ".SH \"NAME\""
    printf "critsim \\- %s\n", esc(title)
    print ".SH \"SYNOPSIS\"\n.sp\n.nf"
    printf "\\fI%s\\fR\n", esc(usage)
    print "\\fIcritsim\\fR \\-\\-help | \\-\\-version"
    print ".fi\n.sp\n.SH \"DESCRIPTION\""
    print "critsim is a research instrument for critical learning periods: a temporary deficit early in training"
    print "(one input source gated, blurred or noisy) permanently changes what a deep network learns, while the"
    print "same deficit late in training does not.  Its engines integrate the per\\-mode theory of deep linear"
    print "networks, train linear networks on full weight matrices and train a small convolutional network on"
    print "images; an analyzer turns the recorded per\\-source maps into singular values, shares, inhibition and"
    print "Relative Source Variance; a sweep runs any engine over a grid of options."
    print ".sp"
    print "Every command takes \\fB\\-\\-model\\fR FILE.ini (an INI file whose keys are the long option names;"
    print "the command line overrides it) and \\fB\\-\\-out\\fR DIR, and writes whitespace\\-separated text tables"
    print "whose leading # lines record the provenance and whose last # line names the columns.  Step t of a"
    print "table is the state after t updates; a deficit KIND[:ARG]@START\\-END affects update t iff"
    print "START <= t < END.  The source tree documents the mathematics (docs/theory.md), every file format"
    print "(docs/formats.md) and the module layout (docs/design.md)."
    print ".SH \"COMMANDS\""
    for (i = 1; i <= n; i++) {
      printf ".PP\n\\fBcritsim\\-%s\\fR(1)\n.RS 4\n%s\n.RE\n", esc(C[i]), esc(S[i])
    }
    print ".SH \"EXIT STATUS\""
    printf "%s.\n", esc(ex)
    print ".SH \"SEE ALSO\""
    for (i = 1; i <= n; i++) printf "\\fBcritsim\\-%s\\fR(1)%s\n", esc(C[i]), i < n ? "," : ""
    print ".SH \"CRITSIM\""
    print "Part of the \\fBcritsim\\fR(1) suite"
  }' "$OUT/.help.$$" > "$OUT/.critsim.1.$$"
mv "$OUT/.critsim.1.$$" "$OUT/critsim.1"
rm -f "$OUT/.help.$$"

for c in $cmds; do
  "$CS" "$c" --help | page "critsim-$c" "$c" > "$OUT/.critsim-$c.1.$$"
  mv "$OUT/.critsim-$c.1.$$" "$OUT/critsim-$c.1"
done
