#!/bin/sh
# tests/run.sh - run every test program and shell test, print their output and one final line
# "N passed, N failed" (N = individual checks, summed).  Exit status non-zero on any failure.
# A program that crashes or prints no summary counts as one failed check.
pass=0; fail=0
for t in "$@"; do
  case "$t" in *.sh) out=$(sh "$t" 2>&1); rc=$? ;; *) out=$("$t" 2>&1); rc=$? ;; esac
  printf '%s\n' "$out" | grep -v -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed$'
  line=$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
  if [ -z "$line" ]; then
    echo "FAIL $t: no summary line (exit status $rc; crashed?)"; fail=$((fail + 1)); continue
  fi
  p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
  f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then echo "FAIL $t: exit status $rc"; f=1; fi
  echo "  $(basename "$t"): $p passed, $f failed"
  pass=$((pass + p)); fail=$((fail + f))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
