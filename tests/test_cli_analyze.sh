#!/bin/sh
# test_cli_analyze.sh - `critsim analyze` on the frozen snapshot fixture (tests/data/analyze, made by
# make_fixture.py there): contract tables and values, --rsv-steps, --out, and damaged snapshots
# (exit 2 naming the file), a non-finite snapshot (exit 1, tables end with "# FAILED at step N").
. "$(dirname "$0")/lib.sh"
FIX="$(dirname "$0")/data/analyze/run"
fresh() { rm -rf "$TMP/$1"; cp -r "$FIX" "$TMP/$1"; }
# val FILE KEY: value of a `key value` row
val() { awk -v k="$2" '!/^#/ && $1 == k { print $2 }' "$1"; }
# near GOT WANT TOL NAME
near() { if awk -v g="$1" -v w="$2" -v t="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && d <= t) }'; then ok; else bad "$4: got '$1' want $2 +- $3"; fi; }

fresh r1
expect_exit 0 analyze-ok $CS analyze --run "$TMP/r1"
for f in svd share share_blocks angles rsv rsv_hist summary; do
  if [ -s "$TMP/r1/$f.dat" ]; then ok; else bad "missing $f.dat"; fi
done
expect_grep svd-columns '^# step source index sigma$' "$TMP/r1/svd.dat"
expect_grep share-columns '^# step mode share_b inhibition' "$TMP/r1/share.dat"
expect_grep rsv-columns '^# step unit rsv' "$TMP/r1/rsv.dat"
expect_grep rsv-sign 'RSV = \(SV_b - SV_a\)/\(SV_a \+ SV_b\)' "$TMP/r1/rsv.dat"
expect_grep provenance '^# command: critsim analyze --run' "$TMP/r1/share.dat"
# s = (4, 2): no degenerate modes; share_blocks.dat then has one block per mode, equal to share.dat
expect_grep degenerate-none '^# degenerate modes: none' "$TMP/r1/share.dat"
expect_grep blocks-columns '^# step block first last share_b K_a K_b K_total s$' "$TMP/r1/share_blocks.dat"
near "$(awk '!/^#/ && $1 == 40 && $2 == 0 { print $5 }' "$TMP/r1/share_blocks.dat")" 0.25 1e-12 block-share-single
# planted values (make_fixture.py): exact up to a few roundings -> 1e-12
S="$TMP/r1/summary.dat"
near "$(val "$S" share_b_m0)" 0.25 1e-12 share_b_m0
near "$(val "$S" share_b_m1)" 0.5 1e-12 share_b_m1
near "$(val "$S" inhibition_m0)" 0.5 1e-12 inhibition_m0
near "$(val "$S" inhibition_m1)" 0 1e-12 inhibition_m1
near "$(val "$S" half_step_m0)" 20 1e-9 half_step_m0
near "$(val "$S" n_fused)" 1 0 n_fused
near "$(val "$S" n_single)" 2 0 n_single
near "$(val "$S" n_dead)" 1 0 n_dead
near "$(val "$S" n_units)" 4 0 n_units-hidden
# svd.dat: total map's top singular value at step 40 = sqrt(2 (3^2 + 1^2)) = sqrt 20
near "$(awk '!/^#/ && $1 == 40 && $2 == "total" && $3 == 0 { print $4 }' "$TMP/r1/svd.dat")" 4.47213595499958 1e-12 svd-total
# rsv.dat: unit 0 -> -1, unit 1 -> +1, unit 2 -> 0 at step 40
near "$(awk '!/^#/ && $1 == 40 && $2 == 0 { print $3 }' "$TMP/r1/rsv.dat")" -1 0 rsv-unit0
near "$(awk '!/^#/ && $1 == 40 && $2 == 1 { print $3 }' "$TMP/r1/rsv.dat")" 1 0 rsv-unit1
near "$(awk '!/^#/ && $1 == 40 && $2 == 2 { print $3 }' "$TMP/r1/rsv.dat")" 0 1e-15 rsv-unit2
# histogram: 39 bins per step, 3 counted units per step (the dead one is left out)
near "$(awk '!/^#/ && $1 == 40' "$TMP/r1/rsv_hist.dat" | wc -l)" 39 0 hist-bins
near "$(awk '!/^#/ && $1 == 40 { n += $5 } END { print n }' "$TMP/r1/rsv_hist.dat")" 3 0 hist-count

# --rsv-steps and --out
mkdir -p "$TMP/o"
expect_exit 0 analyze-out $CS analyze --run "$TMP/r1" --out "$TMP/o" --rsv-steps 10,last
if [ "$(awk '!/^#/ { print $1 }' "$TMP/o/rsv.dat" | sort -un | tr '\n' ' ')" = "10 40 " ]; then ok; else bad "rsv-steps 10,last: $(awk '!/^#/ { print $1 }' "$TMP/o/rsv.dat" | sort -un | tr '\n' ' ')"; fi
expect_exit 2 rsv-step-not-recorded $CS analyze --run "$TMP/r1" --rsv-steps 15
expect_grep rsv-step-msg 'step 15 was not recorded' "$TMP/err"
expect_exit 2 rsv-step-garbage $CS analyze --run "$TMP/r1" --rsv-steps 1x

# usage and damaged input: exit 2, one line naming the file
expect_exit 2 no-run $CS analyze
expect_exit 2 missing-folder $CS analyze --run "$TMP/nope"
expect_grep missing-names-index 'index.dat' "$TMP/err"
fresh r2
head -c 300 "$FIX/snap/map_b.npy" > "$TMP/r2/snap/map_b.npy"
expect_exit 2 truncated-npy $CS analyze --run "$TMP/r2"
expect_grep truncated-names-file 'map_b.npy' "$TMP/err"
fresh r3
printf 'garbage' | dd of="$TMP/r3/snap/hidden_a.npy" bs=1 seek=0 conv=notrunc 2>/dev/null
expect_exit 2 corrupted-npy $CS analyze --run "$TMP/r3"
expect_grep corrupted-names-file 'hidden_a.npy' "$TMP/err"
fresh r4
sed -i 's/^# n_snap = 5$/# n_snap = 6/' "$TMP/r4/snap/index.dat"
expect_exit 2 index-count $CS analyze --run "$TMP/r4"
expect_grep index-names-file 'index.dat' "$TMP/err"
fresh r5
head -n 12 "$FIX/snap/index.dat" > "$TMP/r5/snap/index.dat"
expect_exit 2 truncated-index $CS analyze --run "$TMP/r5"
fresh r7
: > "$TMP/r7/snap/map_a.npy"
expect_exit 2 empty-npy $CS analyze --run "$TMP/r7"
expect_grep empty-names-file 'map_a.npy' "$TMP/err"
fresh r8
rm "$TMP/r8/snap/U.npy"
expect_exit 2 missing-npy $CS analyze --run "$TMP/r8"
expect_grep missing-names-file 'U.npy' "$TMP/err"
fresh r9
sed -i 's/^2 20 0.2/2 x20 0.2/' "$TMP/r9/snap/index.dat"
expect_exit 2 garbage-index-row $CS analyze --run "$TMP/r9"
expect_grep garbage-names-index 'index.dat' "$TMP/err"

# a non-finite value in the last snapshot of map_b: exit 1, tables up to step 30, FAILED line
fresh r6
size=$(wc -c < "$FIX/snap/map_b.npy")
printf '\000\000\000\000\000\000\370\177' | dd of="$TMP/r6/snap/map_b.npy" bs=1 seek=$((size - 8)) conv=notrunc 2>/dev/null
expect_exit 1 nonfinite $CS analyze --run "$TMP/r6"
expect_grep nonfinite-msg 'step 40' "$TMP/err"
expect_grep nonfinite-failed '^# FAILED at step 40' "$TMP/r6/share.dat"
if awk '!/^#/ && $1 == 40 { exit 1 }' "$TMP/r6/share.dat"; then ok; else bad "share.dat has rows of the non-finite step"; fi

# integration with the linear engine (skipped when critsim flow is not built): snapshots written by
# flow give the same tracked K as flow's own modes.dat (same U, V and maps: 1e-12 covers the
# different summation order), and the early gate of b leaves b without the strong modes ([P2] Fig. 2)
if $CS flow --help >/dev/null 2>&1; then
  expect_exit 0 flow-run $CS flow --shared-input --init aligned --init-eps 0.01 --loss sum --steps 400 --every 20 \
    --deficit gate:b@0-150 --out "$TMP/fl"
  expect_exit 0 flow-analyze $CS analyze --run "$TMP/fl"
  d=$(awk 'FNR == 1 { f++ } /^#/ { next } f == 1 { ka[$1" "$2] = $4; kb[$1" "$2] = $5; next }
           ($1" "$2) in ka { x = $5 - ka[$1" "$2]; y = $6 - kb[$1" "$2]; if (x < 0) x = -x; if (y < 0) y = -y;
                              if (x > m) m = x; if (y > m) m = y; n++ }
           END { if (n < 8 * 21) print "rows " n; else printf "%.3g\n", m }' "$TMP/fl/modes.dat" "$TMP/fl/share.dat")
  near "$d" 0 1e-12 flow-K-vs-modes
  near "$(val "$TMP/fl/summary.dat" share_b_m0)" 0 0.05 flow-early-gate-share
  near "$(val "$TMP/fl/summary.dat" share_b_m0)" "$(val "$TMP/fl/final.dat" share_b_m0)" 1e-12 flow-final-share
  # the hierarchical task's s = sqrt3, sqrt3 and 1, 1, 1, 1 are degenerate blocks: named in every table,
  # and the block share of analyze equals the one flow writes to final.dat
  expect_grep degenerate-hier '^# degenerate modes: 2-3 \(s = 1.7320508\), 4-7 \(s = 1\);' "$TMP/fl/summary.dat"
  near "$(val "$TMP/fl/summary.dat" share_b_m4_7)" "$(val "$TMP/fl/final.dat" share_b_m4_7)" 1e-12 flow-block-share
  near "$(val "$TMP/fl/summary.dat" share_b_m2_3)" "$(val "$TMP/fl/final.dat" share_b_m2_3)" 1e-12 flow-block-share23
  if [ "$(awk '!/^#/ && $1 == 400 && $2 == 3 { print $3 "-" $4 }' "$TMP/fl/share_blocks.dat")" = 4-7 ]; then ok; else bad "share_blocks.dat: block 3 is not modes 4-7"; fi
else
  echo "  (critsim flow not built: integration checks skipped)"
fi
done_checks test_cli_analyze
