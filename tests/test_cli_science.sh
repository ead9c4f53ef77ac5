#!/bin/sh
# test_cli_science.sh - pipeline of the CNN deficit experiment (models/cnn_cp_deficits.ini; its effects
# are asserted by `make check-science`, not here): the model file plans its 66-point grid; a tiny
# override of it (2 points, 1 and 2 epochs, 256 images, 1 seed; a few seconds) runs through `critsim
# sweep` into a well-formed summary; plots/cnn_cp_deficits.awk turns that into the figure's table and
# gnuplot draws it; tests/science/check_cp_deficits.sh passes, fails and refuses planted tables as its
# header says (pooled sd worked by hand below).
. "$(dirname "$0")/lib.sh"
M=models/cnn_cp_deficits.ini
AWKF=plots/cnn_cp_deficits.awk
CHK=tests/science/check_cp_deficits.sh

expect_exit 0 plan $CS sweep --model $M --plan --out "$TMP/plan"
expect_grep plan-66 '^66 points' "$TMP/out"
expect_grep plan-columns '^# index id deficit seed$' "$TMP/plan/grid.dat"
[ "$(grep -c ' blur:4@12-12 ' "$TMP/plan/grid.dat")" -eq 3 ] && ok || bad "plan: the 28-epoch control should have 3 seeds"

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "test_cli_science: Fashion-MNIST missing (apt-get install dataset-fashion-mnist); the tiny sweep is skipped"
else
  S=$TMP/sw
  expect_exit 0 tiny-sweep $CS sweep --model $M --vary 'deficit=blur:4@0-0,blur:4@0-1' --vary clean-epochs=1 \
    --vary train-subset=256 --vary test-subset=256 --seeds 1 --jobs 1 --quiet --out "$S"
  expect_grep tiny-seeds-columns '^# deficit clean-epochs train-subset test-subset n .*test_acc_mean test_acc_sd' "$S/summary_seeds.dat"
  [ "$(awk '!/^#/ && $NF == 0' "$S/summary.dat" | wc -l)" -eq 2 ] && ok || bad "tiny-sweep: want 2 finished points in summary.dat"
  expect_exit 0 tiny-curves awk -v clean=1 -f $AWKF "$S/summary_seeds.dat"
  cp "$TMP/out" "$TMP/curves.dat"
  expect_grep curves-columns '^# kind t0 epochs n test_acc_mean test_acc_sd train_acc_mean train_acc_sd final_loss_mean final_loss_sd$' "$TMP/curves.dat"
  expect_grep curves-provenance '^# critsim plots/cnn_cp_deficits.awk: curves.dat from ' "$TMP/curves.dat"
  # the empty window is the control (t0 = 0, 0 + 1 epochs), the blur ends at 1 (1 + 1 epochs); the
  # accuracy is copied from the sweep's table, not recomputed
  acc=$(awk '$1 == "blur:4@0-1" { print $10 }' "$S/summary_seeds.dat")
  [ "$(awk '!/^#/ { print $1, $2, $3, $4 }' "$TMP/curves.dat" | tr '\n' ';')" = "none 0 1 1;blur 1 2 1;" ] && ok || bad "curves: rows $(grep -v '^#' "$TMP/curves.dat")"
  [ -n "$acc" ] && [ "$(awk '$1 == "blur" { print $5 }' "$TMP/curves.dat")" = "$acc" ] && ok || bad "curves: test_acc_mean of blur is not the summary's $acc"
  if command -v gnuplot >/dev/null 2>&1; then
    expect_exit 0 figure gnuplot -e "f='$TMP/curves.dat'; clean=1; out='$TMP/fig.png'" plots/cnn_cp_deficits.gp
    [ -s "$TMP/fig.png" ] && ok || bad "figure: no PNG"
  fi
fi
# the reshaping script refuses what it cannot read
printf '# deficit n test_acc_mean\nblur:4@0-1 1 0.5\n' >"$TMP/short.dat"
expect_exit 2 curves-missing-column awk -v clean=1 -f $AWKF "$TMP/short.dat"
expect_exit 2 curves-no-clean awk -f $AWKF "$TMP/short.dat"

# planted seed summaries: every condition the checker uses, n = 3; the numbers are chosen so that each
# assertion holds by a wide margin (pilot-like), then one is broken
plant() { # FILE [DEFICIT MEAN SD] overrides
  {
    echo "# deficit n test_acc_mean test_acc_sd"
    for d in blur:4@0-0 blur:4@12-12 blur:4@0-2 blur:4@0-4 blur:4@0-6 blur:4@0-8 blur:4@0-12 flip@0-2 flip@0-4 \
             flip@0-6 flip@0-8 flip@0-12 labels@0-4 labels@0-8 labels@0-12 noise@0-4 noise@0-8 noise@0-12; do
      case $d in
        blur:4@0-0|blur:4@12-12) echo "$d 3 0.85 0.004" ;;
        blur:4@0-2) echo "$d 3 0.835 0.004" ;;
        blur:4@0-4) echo "$d 3 0.82 0.004" ;;
        blur:4@0-6) echo "$d 3 0.80 0.004" ;;
        flip@0-2) echo "$d 3 0.848 0.004" ;;
        flip@0-6) echo "$d 3 0.835 0.004" ;;
        blur:4@0-8) echo "$d 3 0.79 0.004" ;;
        blur:4@0-12) echo "$d 3 0.76 0.004" ;;
        flip@0-4) echo "$d 3 0.84 0.004" ;;
        flip@0-8) echo "$d 3 0.83 0.004" ;;
        flip@0-12) echo "$d 3 0.80 0.004" ;;
        labels@0-4) echo "$d 3 0.835 0.004" ;;
        labels@0-8) echo "$d 3 0.82 0.004" ;;
        labels@0-12) echo "$d 3 0.79 0.004" ;;
        noise@0-4) echo "$d 3 0.825 0.004" ;;
        noise@0-12) echo "$d 3 0.74 0.004" ;;
        *) echo "$d 3 0.85 0.004" ;;
      esac
    done
  } | awk -v d="$2" -v m="$3" -v s="$4" '$1 == d { $3 = m; $4 = s } { print }' >"$1"
}
plant "$TMP/good.dat"
expect_exit 0 check-pass sh $CHK "$TMP/good.dat"
expect_grep check-count '^check_cp_deficits: [1-9][0-9]* assertions, 0 failed$' "$TMP/out"
# blur t0 = 12 at 0.835 +- 0.01 against the 28-epoch control 0.85 +- 0.004: pooled sd
# sqrt((0.01^2 + 0.004^2) / 2) = 0.0076158, difference -0.015 = -1.97 pooled sd, not below by 2
plant "$TMP/bad.dat" blur:4@0-12 0.835 0.01
expect_exit 1 check-fail sh $CHK "$TMP/bad.dat"
expect_grep check-fail-names '^FAIL below +blur:4@0-12 +vs blur:4@12-12 *: .*-1\.97 pooled sd' "$TMP/out"
# ... and at 0.834 the difference is -0.016 = -2.10 pooled sd: below by more than 2
plant "$TMP/edge.dat" blur:4@0-12 0.834 0.01
sh $CHK "$TMP/edge.dat" >"$TMP/edge.out"
expect_grep check-edge '^ok +below +blur:4@0-12 +vs blur:4@12-12 *: .*-2\.10 pooled sd' "$TMP/edge.out"
grep -v 'blur:4@0-8' "$TMP/good.dat" >"$TMP/missing.dat"
grep -q 'blur:4@0-8' $CHK && { expect_exit 2 check-missing-row sh $CHK "$TMP/missing.dat"; }
sed 's/^blur:4@0-12 3 /blur:4@0-12 2 /' "$TMP/good.dat" >"$TMP/n2.dat"
expect_exit 2 check-unfinished-seeds sh $CHK "$TMP/n2.dat"
expect_exit 2 check-no-table sh $CHK "$TMP/none.dat"
done_checks test_cli_science
