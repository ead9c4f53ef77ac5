#!/bin/sh
# test_cli_ranges.sh - the ranges the option tables declare: every numeric option of every command shows
# its range in --help ("(range 1..10000)", "(range >= 0)", "(range > 0)"), and a value just outside it
# (given on the command line, and once in a model file) is a usage error: exit 2 and one line on stderr
# naming the option, where the value came from, the value and the range.  The cases are read from the
# --help texts, so an option added with a range is tested without editing this file.
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1

# outside LINE-RANGE: print "VALUE PATTERN" for a value just outside the range and the text of the
# message that names the range (as opts.c writes it), or nothing for a range with no outside value
outside() {
  awk -v r="$1" 'function num(v) { return v == int(v) ? sprintf("%.0f", v) : sprintf("%g", v) }
  BEGIN {
    if (r == "> 0") { print "0 must be > 0"; exit }
    if (r ~ /^>= /) { lo = substr(r, 4); print num(lo - 1) " must be >= " lo; exit }
    if (r ~ /^<= /) { hi = substr(r, 4); print num(hi + 1) " must be <= " hi; exit }
    n = split(r, a, /\.\./); if (n != 2) exit
    printf "%s must be in \\[%s, %s\\]\n", num(a[2] + 1), a[1], a[2]
  }'
}

ncase=0
# what each command needs before it reads its numbers
extra() {
  case $1 in
    analyze) echo "--run $TMP" ;;
    sweep) echo "--command modes" ;;
  esac
}
for cmd in $($CS --help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}'); do
  $CS "$cmd" --help >"$TMP/help" 2>&1 || { bad "$cmd --help failed"; continue; }
  # every N or X option declares a range
  awk '/^  --[a-z0-9-]+ [NX] / && !/\(range / {print}' "$TMP/help" >"$TMP/norange"
  [ ! -s "$TMP/norange" ] && ok || bad "critsim $cmd: numeric options without a range in --help: $(cat "$TMP/norange")"
  sed -n 's/^  --\([a-z0-9-]*\) [NXA].*(range \(.*\))$/\1 \2/p' "$TMP/help" >"$TMP/ranges"
  while read -r opt rng; do # (expect_exit uses $name)
    set -- $(outside "$rng")
    [ $# -ge 2 ] || continue
    val=$1; shift; msg="$*"
    ncase=$((ncase + 1))
    expect_exit 2 "$cmd --$opt $val" $CS "$cmd" $(extra "$cmd") "--$opt=$val" --out "$TMP/o_$cmd"
    expect_grep "$cmd --$opt $val message" "^critsim.*--$opt \\(command line\\): $val is out of range; it $msg" "$TMP/err"
  done <"$TMP/ranges"
  # (sweep leaves an empty --out folder behind after a usage error: not checked here)
  [ "$cmd" != sweep ] && [ -e "$TMP/o_$cmd" ] && bad "critsim $cmd: a refused run wrote its output folder"
done
[ "$ncase" -ge 60 ] && ok || bad "only $ncase out-of-range cases found in the --help texts"

# from a model file: the origin is FILE:LINE
printf 'steps = 10\ndepth = 0\n' >"$TMP/m.ini"
expect_exit 2 "model-file depth 0" $CS flow --model "$TMP/m.ini" --out "$TMP/o"
expect_grep "model-file depth 0 message" "--depth \\(.*m.ini:2\\): 0 is out of range; it must be in \\[1, 10000\\]" "$TMP/err"
# one range for one meaning: --depth of the linear engines
for cmd in flow modes phase; do
  $CS $cmd --help | grep -q -- '--depth N .*(range 1\.\.10000)$' && ok || bad "$cmd --depth range is not 1..10000"
done
done_checks test_cli_ranges.sh
