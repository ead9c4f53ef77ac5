#!/bin/sh
# test_cli_inh.sh - pipeline of the multisensory-inhibition experiments (models/cnn_inh_*.ini, issue 11
# experiments 4, 6 and 7; their effects are measured in the paper, not here): the model files plan
# their grids; a tiny override of models/cnn_inh_remove.ini (4 points x 2 seeds, 1-3 epochs, 128
# images, width 2; a few seconds) runs through `critsim sweep` with every point's tables kept (full =
# true), `critsim analyze` reads each point's snapshots, plots/cnn_inh.awk builds the final, per-epoch
# and RSV tables (checked against the sweep's own summary, the control's epochs.dat and a sum by hand),
# and gnuplot draws the three figures.
. "$(dirname "$0")/lib.sh"
AWKF=plots/cnn_inh.awk
for m in remove:21 restart:24 depth:24 blur:12 norz:9; do
  n=${m#*:}; m=${m%%:*}
  expect_exit 0 plan-$m $CS sweep --model models/cnn_inh_$m.ini --plan --out "$TMP/plan_$m"
  expect_grep plan-$m-$n "^$n points" "$TMP/out"
done
grep -q '^full = true$' models/cnn_inh_remove.ini && ok || bad "cnn_inh_remove.ini: full = true missing (the figures need every point's tables)"

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "test_cli_inh: Fashion-MNIST missing (apt-get install dataset-fashion-mnist); the tiny sweep is skipped"
  done_checks test_cli_inh; exit $?
fi
S=$TMP/sw
expect_exit 0 tiny-sweep $CS sweep --model models/cnn_inh_remove.ini \
  --vary 'deficit=remove:b@0-1,remove:b@0-2,remove:b@1-2,remove:b@3-3' --vary clean-epochs=1 \
  --vary train-subset=128 --vary test-subset=64 --vary width=2 --vary probe=16 --vary rsv-batches=2 \
  --seeds 2 --jobs 2 --quiet --out "$S"
[ "$(awk '!/^#/ && $NF == 0' "$S/summary.dat" | wc -l)" -eq 8 ] && ok || bad "tiny-sweep: want 8 finished points"
expect_grep tiny-final-keys '^# deficit .* test_acc_a test_acc_b info_a info_b status$' "$S/summary.dat"
nep=$(ls "$S"/points/*/epochs.dat 2>/dev/null | wc -l)
[ "$nep" -eq 8 ] && ok || bad "tiny-sweep: full = true should keep 8 epochs.dat, found $nep"
fails=0
for p in "$S"/points/*/; do $CS analyze "$p" >/dev/null 2>&1 || fails=$((fails + 1)); done
[ $fails -eq 0 ] && ok || bad "analyze failed on $fails points"
expect_exit 0 awk-final awk -v dir="$S" -v what=final -v fuse=1 -v ctrl=remove:b@3-3 -f $AWKF "$S/grid.dat"
cp "$TMP/out" "$TMP/final.dat"
expect_exit 0 awk-epochs awk -v dir="$S" -v what=epochs -v fuse=1 -f $AWKF "$S/grid.dat"
cp "$TMP/out" "$TMP/epochs.dat"
expect_exit 0 awk-rsv awk -v dir="$S" -v what=rsv -v fuse=1 -f $AWKF "$S/grid.dat"
cp "$TMP/out" "$TMP/rsv.dat"
expect_grep final-columns '^# fuse def kind S E L epochs n test_acc_mean test_acc_sd .* jshare_b_mean jshare_b_sd ctrl_test_acc_mean .* d_acc_b_mean d_acc_b_sd$' "$TMP/final.dat"
[ "$(awk '!/^#/ { print $2, $3, $4, $5, $6, $7, $8 }' "$TMP/final.dat" | tr '\n' ';')" = "remove:b early 0 1 1 2 2;remove:b early 0 2 2 3 2;remove:b late 1 2 1 3 2;remove:b none 3 3 0 4 2;" ] && ok || bad "final rows: $(grep -v '^#' "$TMP/final.dat" | cut -c1-40)"
# the mean over seeds equals the sweep's own summary_seeds.dat (an independent computation in C)
for c in test_acc:9 test_acc_b:13 info_b:17; do
  k=${c%%:*}; col=${c#*:}
  a=$(awk -v k="$k" '/^#/ { n = split(substr($0, 3), H, " "); for (i = 1; i <= n; i++) C[H[i]] = i; next } $1 == "remove:b@0-2" { print $C[k "_mean"] }' "$S/summary_seeds.dat")
  b=$(awk -v col="$col" '!/^#/ && $5 == 2 && $3 == "early" { print $col }' "$TMP/final.dat")
  awk -v a="$a" -v b="$b" 'BEGIN { exit !(a != "" && b != "" && (a - b < 1e-5 && b - a < 1e-5)) }' && ok || bad "final.dat $k mean $b != summary_seeds $a"
done
# the control columns are the deficit-free run's epochs.dat row at the same epoch (3), mean over seeds
want=$(awk '!/^#/ && $3 == "none" && $7 == 3 { print $9 }' "$TMP/epochs.dat")
got=$(awk '!/^#/ && $5 == 2 && $3 == "early" { print $25 }' "$TMP/final.dat")
[ -n "$want" ] && [ "$want" = "$got" ] && ok || bad "ctrl_test_acc_mean $got != the control's epoch-3 mean $want"
# paired difference: mean of (acc_b - ctrl_acc_b) = difference of the means
awk '!/^#/ && $3 == "early" { d = $13 - $27 - $35; if (d > 1e-5 || d < -1e-5) bad = 1 } END { exit bad }' "$TMP/final.dat" && ok || bad "d_acc_b_mean != acc_b_mean - ctrl_acc_b_mean"
# RSV: the fractions of each block sum to 1; the counts of a block are the two seeds' units with a
# finite RSV (at most 2 x n_units: units without variance are not counted)
awk '!/^#/ && NF { k = $3 " " $5 " " $7; f[k] += $12; c[k] += $11 } END { for (k in f) if (f[k] < 0.999999 || f[k] > 1.000001) exit 1; exit !length(f) }' "$TMP/rsv.dat" && ok || bad "rsv.dat: fractions do not sum to 1"
units=$(sed -n 's/^# n_units = //p' "$(ls -d "$S"/points/*/ | head -n 1)snap/index.dat")
awk -v u="$units" '!/^#/ && NF { c[$3 " " $5 " " $7] += $11 } END { for (k in c) if (c[k] > 2 * u || c[k] < 1) exit 1; exit !length(c) }' "$TMP/rsv.dat" && ok || bad "rsv.dat: counts should be in 1 .. 2 seeds x $units units"
# tests/science/check_inh.sh: a condition equals itself (within passes, below fails), refusals exit 2
C=tests/science/check_inh.sh
printf 'within remove:b:early:2 remove:b:early:2 test_acc 0\n' >"$TMP/a1"
printf 'below remove:b:early:2 remove:b:early:2 test_acc 0\n' >"$TMP/a2"
printf 'below remove:b:early:5 remove:b:early:2 test_acc 2\n' >"$TMP/a3"
expect_exit 0 check-within sh $C "$TMP/final.dat" "$TMP/a1" 2
expect_exit 1 check-below-fails sh $C "$TMP/final.dat" "$TMP/a2" 2
expect_exit 2 check-no-row sh $C "$TMP/final.dat" "$TMP/a3" 2
expect_exit 2 check-seeds sh $C "$TMP/final.dat" "$TMP/a1" 3
expect_exit 2 check-no-table sh $C "$TMP/nope.dat" "$TMP/a1"
# it refuses what it cannot read
expect_exit 2 awk-no-dir awk -v what=final -f $AWKF "$S/grid.dat"
expect_exit 2 awk-bad-ctrl awk -v dir="$S" -v what=final -v ctrl=remove:b@9-9 -f $AWKF "$S/grid.dat"
rm -f "$(ls -d "$S"/points/*/ | head -n 1)svd.dat"
expect_exit 2 awk-no-analyze awk -v dir="$S" -v what=final -f $AWKF "$S/grid.dat"
if command -v gnuplot >/dev/null 2>&1; then
  expect_exit 0 fig-inh gnuplot -e "fin='$TMP/final.dat'; ep='$TMP/epochs.dat'; rsv='$TMP/rsv.dat'; bfin='$TMP/final.dat'; brsv='$TMP/rsv.dat'; out='$TMP/a.png'; Lsel=1" plots/cnn_inh.gp
  expect_exit 0 fig-restart gnuplot -e "fin='$TMP/final.dat'; ep='$TMP/epochs.dat'; nfin='$TMP/final.dat'; lin='tests/data/cp_end_tiny.dat'; out='$TMP/b.png'; Lsel=1" plots/cnn_inh_restart.gp
  expect_exit 0 fig-theory gnuplot -e "dfin='$TMP/final.dat'; sfin='$TMP/final.dat'; lin='tests/data/cp_end_tiny.dat'; out='$TMP/c.png'" plots/cnn_inh_theory.gp
  [ -s "$TMP/a.png" ] && [ -s "$TMP/b.png" ] && [ -s "$TMP/c.png" ] && ok || bad "figures: a PNG is missing"
fi
done_checks test_cli_inh
