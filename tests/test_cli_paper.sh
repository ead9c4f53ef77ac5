#!/bin/sh
# test_cli_paper.sh - paper/fill.awk, which puts the program's numbers into paper/critsim.md: both token
# forms (key table, row condition) resolve on a tiny fixture, with formats and numeric matching; every
# unresolvable token (missing file, key, column, row, a failed run, a failed sweep point, an unterminated
# token) exits non-zero with one line naming the token.  (`make paper` fills the real template.)
# No engine run, no gnuplot: a fraction of a second.
. "$(dirname "$0")/lib.sh"
FILL=paper/fill.awk
if [ ! -f "$FILL" ]; then echo "FAIL test_cli_paper: $FILL missing"; FAIL=1; done_checks test_cli_paper; exit $?; fi

R=$TMP/res
mkdir -p "$R/run" "$R/sweep"
cat >"$R/run/final.dat" <<'EOF'
# critsim 0.1.0: final.dat
# command: critsim flow --out run
# key value
final_loss 1.234567e-03
share_b_m0 0.5
share_b_m1 0.99585594171289937
EOF
cat >"$R/sweep/summary.dat" <<'EOF'
# critsim 0.1.0: summary.dat
# sweep of critsim modes, model m.ini
# deficit end depth share_b_m0 status
gate:b@0-0 0 1 0.5 0
gate:b@0-1000 1000 2 0.0025819888974716134 0
gate:b@0-1000 1000 3 0.123456 0
gate:b@0-5 5 3 0.3 1
EOF
printf '# critsim: loss.dat\n# step train_loss test_loss\n0 1 1\n10 0.5 0.5\n# FAILED at step 11: non-finite state\n' >"$R/run/loss.dat"

# fill TEXT: run fill.awk on one template line, output in $TMP/out, stderr in $TMP/err, status in $rc
fill() { printf '%s\n' "$1" >"$TMP/t.in"; awk -v R="$R" -f "$FILL" "$TMP/t.in" >"$TMP/out" 2>"$TMP/err"; rc=$?; }
# good NAME TEXT WANT: the line fills to WANT with status 0
good() {
  fill "$2"
  if [ "$rc" -eq 0 ] && [ "$(cat "$TMP/out")" = "$3" ]; then ok; else bad "$1: got '$(cat "$TMP/out")' (exit $rc, $(cat "$TMP/err")), want '$3'"; fi
}
# fails NAME TEXT PATTERN: non-zero status, one stderr line naming the token and matching PATTERN
fails() {
  fill "$2"
  tok=$(printf '%s' "$2" | sed 's/.*@{//; s/}@.*//')
  if [ "$rc" -eq 0 ]; then bad "$1: exit 0 on '$2' (output '$(cat "$TMP/out")')"; return; fi
  if [ "$(wc -l <"$TMP/err")" -ne 1 ] || ! grep -qF -- "$tok" "$TMP/err" || ! grep -qE -- "$3" "$TMP/err"; then
    bad "$1: stderr does not name the token '$tok' and /$3/: $(cat "$TMP/err")"; return
  fi
  ok
}

# 1. both token forms, formats, numeric matching, text around and between tokens
good key        'loss = @{run/final.dat|final_loss}@.'                              'loss = 0.001235.'
good key-fmt    '@{run/final.dat|share_b_m1|%.3f}@'                                 '0.996'
good row        'D=2: @{sweep/summary.dat|depth=2,end=1000|share_b_m0}@'             'D=2: 0.002582'
good row-numeq  '@{sweep/summary.dat|depth=3.0,end=1e3|share_b_m0}@'                 '0.1235'
good row-text   '@{sweep/summary.dat|deficit=gate:b@0-1000,depth=3|share_b_m0|%.2f}@' '0.12'
good row-intfmt '@{sweep/summary.dat|depth=2|end|%d}@ updates'                       '1000 updates'
good two        'a @{run/final.dat|share_b_m0}@ b @{sweep/summary.dat|depth=1|share_b_m0}@ c' 'a 0.5 b 0.5 c'
good no-token   'plain line, 100% text {not a token}'                                'plain line, 100% text {not a token}'
good row-first  '@{sweep/summary.dat|end=1000|depth}@'                               '2'

# 2. every unresolvable token stops the fill and names itself
fails no-file    'x @{run/missing.dat|final_loss}@ y'         'cannot read'
fails no-key     'x @{run/final.dat|share_b_m9}@ y'           "no key 'share_b_m9'"
fails no-col     '@{sweep/summary.dat|depth=2|share_b_m7}@'   "no column 'share_b_m7'"
fails no-condcol '@{sweep/summary.dat|width=2|share_b_m0}@'   "no column 'width'"
fails no-row     '@{sweep/summary.dat|depth=8|share_b_m0}@'   'no row depth=8'
fails bad-status '@{sweep/summary.dat|end=5|share_b_m0}@'     "status '1'"
fails failed-run '@{run/loss.dat|step=10|test_loss}@'         'FAILED'
fails unclosed   'x @{run/final.dat|final_loss y'             'unterminated'
# a failing token after a good one on the same line still fails the whole fill
fill 'a @{run/final.dat|final_loss}@ b @{run/final.dat|nokey}@'
[ "$rc" -ne 0 ] && ok || bad "second token on a line: exit 0"

done_checks test_cli_paper
