#!/bin/sh
# test_cli_science_more.sh - pipeline of issue 11's experiments 6 (restart), 3 (depth, split) and 2
# (sliding window + Fisher trace) (models/cnn_cp_restart.ini, cnn_cp_depth.ini, cnn_cp_split.ini,
# cnn_cp_window.ini, cnn_cp_fisher.ini; their effects are asserted by `make check-science` or reported
# in the paper, not here): the model files plan their grids; plots/cnn_paired.awk and
# plots/cnn_fisher.awk compute the paired accuracy loss and the Fisher mean over seeds of planted
# tables as worked by hand below, and refuse what they cannot read; the gnuplot scripts draw the
# planted tables.  No training runs here (test_cli_science.sh runs a tiny sweep through the same
# engine): a few seconds.
. "$(dirname "$0")/lib.sh"
PAW=plots/cnn_paired.awk
FAW=plots/cnn_fisher.awk

# the grids (points = conditions x 3 seeds; deficit trunks where points differ only in the end)
for mp in cnn_cp_restart:36 cnn_cp_depth:24 cnn_cp_split:27 cnn_cp_window:21 cnn_cp_fisher:3; do
  m=${mp%:*}; n=${mp#*:}
  expect_exit 0 "plan-$m" $CS sweep --model models/$m.ini --plan --out "$TMP/plan_$m"
  expect_grep "plan-$m-$n" "^$n points" "$TMP/out"
done
$CS sweep --model models/cnn_cp_restart.ini --plan --out "$TMP/plan_r2" >"$TMP/out.restart" 2>&1
expect_grep plan-restart-trunks '30 of them branch from 6 deficit trunks' "$TMP/out.restart"
grep -q '^schedule = restart$' models/cnn_cp_restart.ini && ok || bad "cnn_cp_restart.ini: not the restart schedule"

# planted per-seed summary: two groups (depth 1, 3), reference blur:4@12-12, seeds 0-2
cat >"$TMP/sum.dat" <<'T'
# critsim 0.1.0: summary.dat
# depth deficit seed final_loss test_loss test_acc train_acc status
1 blur:4@12-12 0 0.30 0.40 0.80 0.90 0
1 blur:4@12-12 1 0.31 0.41 0.82 0.91 0
1 blur:4@12-12 2 0.29 0.39 0.84 0.92 0
1 blur:4@0-12 0 0.50 0.60 0.70 0.75 0
1 blur:4@0-12 1 0.52 0.62 0.71 0.76 0
1 blur:4@0-12 2 0.51 0.61 0.75 0.77 0
3 blur:4@12-12 0 0.20 0.30 0.85 0.95 0
3 blur:4@12-12 1 0.21 0.31 0.86 0.96 0
3 blur:4@12-12 2 0.22 0.32 0.87 0.97 0
3 blur:4@0-12 0 0.40 0.50 0.80 0.85 0
3 blur:4@0-12 1 0.41 0.51 0.80 0.86 1
T
expect_exit 0 paired awk -v ref='blur:4@12-12' -v group=depth -f $PAW "$TMP/sum.dat"
cp "$TMP/out" "$TMP/paired.dat"
expect_grep paired-columns '^# depth deficit kind start end n test_acc_mean test_acc_sd loss_mean loss_sd train_acc_mean train_acc_sd final_loss_mean final_loss_sd$' "$TMP/paired.dat"
expect_grep paired-provenance '^# critsim plots/cnn_paired.awk: paired accuracy loss from .*reference blur:4@12-12, grouped by depth$' "$TMP/paired.dat"
# depth 1, blur [0, 12): losses 0.10, 0.11, 0.09 -> mean 0.1, sample sd 0.01; accuracies 0.70, 0.71,
# 0.75 -> mean 0.72, sd sqrt(((0.02)^2 + (0.01)^2 + (0.03)^2) / 2) = 0.026458
[ "$(awk '$1 == 1 && $2 == "blur:4@0-12" { print $3, $4, $5, $6, $7, $8, $9, $10 }' "$TMP/paired.dat")" = \
  "blur 0 12 3 0.720000 0.026458 0.100000 0.010000" ] && ok || bad "paired: depth-1 blur row $(grep '^1 blur:4@0-12' "$TMP/paired.dat")"
# the reference row: kind none, loss 0 for every seed (sd 0)
[ "$(awk '$1 == 1 && $2 == "blur:4@12-12" { print $3, $6, $9, $10 }' "$TMP/paired.dat")" = "none 3 0.000000 0.000000" ] && ok || bad "paired: reference row"
# depth 3: seed 1 failed (status 1), so n = 1, loss 0.05, sd nan
[ "$(awk '$1 == 3 && $2 == "blur:4@0-12" { print $6, $9, $10 }' "$TMP/paired.dat")" = "1 0.050000 nan" ] && ok || bad "paired: failed point not left out"
expect_exit 2 paired-no-ref awk -v ref='blur:4@0-0' -v group=depth -f $PAW "$TMP/sum.dat"
# without -v group the depth-1 and depth-3 rows of one deficit and seed would collide: refused
expect_exit 2 paired-ungrouped awk -v ref='blur:4@12-12' -f $PAW "$TMP/sum.dat"
expect_exit 2 paired-no-ref-arg awk -f $PAW "$TMP/sum.dat"
expect_exit 2 paired-bad-group awk -v ref='blur:4@12-12' -v group=width -f $PAW "$TMP/sum.dat"
printf '# deficit seed test_acc status\nblur:4@0-1 0 0.5 0\n' >"$TMP/short.dat"
expect_exit 2 paired-missing-column awk -v ref='blur:4@0-1' -f $PAW "$TMP/short.dat"

# planted fisher.dat of two seeds: epoch 0 totals 1 and 3 (mean 2, sd sqrt(2)); epoch 1 only in one
printf '# critsim 0.1.0: fisher.dat\n# epoch total L1\n0 1 1\n1 5 5\n' >"$TMP/f1.dat"
printf '# critsim 0.1.0: fisher.dat\n# epoch total L1\n0 3 3\n' >"$TMP/f2.dat"
expect_exit 0 fisher awk -f $FAW "$TMP/f1.dat" "$TMP/f2.dat"
cp "$TMP/out" "$TMP/fisher.dat"
expect_grep fisher-columns '^# epoch n total_mean total_sd$' "$TMP/fisher.dat"
[ "$(grep -v '^#' "$TMP/fisher.dat" | tr '\n' ';')" = "0 2 2 1.41421;" ] && ok || bad "fisher: rows $(grep -v '^#' "$TMP/fisher.dat")"
printf '# epoch total L1\n0 1 1\n# FAILED at step 1: x\n' >"$TMP/ff.dat"
expect_exit 2 fisher-failed awk -f $FAW "$TMP/ff.dat"
printf '# epoch L1\n0 1\n' >"$TMP/fn.dat"
expect_exit 2 fisher-no-total awk -f $FAW "$TMP/fn.dat"

# check_cp_restart.sh (make check-science): passes a planted table where the restarted blur runs are
# level with the 12-epoch control, fails one where t0 = 12 is 0.03 below it: pooled sd
# sqrt((0.004^2 + 0.004^2) / 2) = 0.004, difference -0.03 = -7.5 pooled sd, outside the margin 2
printf '# deficit n test_acc_mean test_acc_sd\nblur:4@0-0 3 0.85 0.004\nblur:4@0-4 3 0.851 0.004\nblur:4@0-8 3 0.849 0.004\nblur:4@0-12 3 0.85 0.004\n' >"$TMP/rs.dat"
expect_exit 0 restart-check-pass sh tests/science/check_cp_restart.sh "$TMP/rs.dat"
expect_grep restart-check-count '^check_cp_restart: 3 assertions, 0 failed$' "$TMP/out"
sed 's/^blur:4@0-12 3 0.85 /blur:4@0-12 3 0.82 /' "$TMP/rs.dat" >"$TMP/rs_bad.dat"
expect_exit 1 restart-check-fail sh tests/science/check_cp_restart.sh "$TMP/rs_bad.dat"
expect_grep restart-check-names '^FAIL within blur:4@0-12 +vs blur:4@0-0 *: .*-7\.50 pooled sd' "$TMP/out"

# the figures draw the planted tables (no gnuplot: skipped)
if command -v gnuplot >/dev/null 2>&1; then
  cat >"$TMP/p0.dat" <<'T'
# deficit kind start end n test_acc_mean test_acc_sd loss_mean loss_sd train_acc_mean train_acc_sd final_loss_mean final_loss_sd
blur:4@0-0 none 0 0 3 0.85 0.004 0 0 0.9 0.01 0.3 0.01
blur:4@12-12 none 12 12 3 0.85 0.004 0.001 0.003 0.9 0.01 0.3 0.01
blur:4@0-4 blur 0 4 3 0.82 0.004 0.03 0.004 0.9 0.01 0.3 0.01
blur:4@0-12 blur 0 12 3 0.76 0.004 0.09 0.004 0.9 0.01 0.3 0.01
flip@0-4 flip 0 4 3 0.84 0.004 0.01 0.004 0.9 0.01 0.3 0.01
flip@0-12 flip 0 12 3 0.80 0.004 0.05 0.004 0.9 0.01 0.3 0.01
blur:4@2-6 blur 2 6 3 0.80 0.004 0.05 0.004 0.9 0.01 0.3 0.01
T
  expect_exit 0 fig-restart gnuplot -e "f1='$TMP/p0.dat'; f2='$TMP/p0.dat'; out='$TMP/r.png'" plots/cnn_cp_restart.gp
  [ -s "$TMP/r.png" ] && ok || bad "fig-restart: no PNG"
  expect_exit 0 fig-depth gnuplot -e "fd='$TMP/paired.dat'; f2='$TMP/p0.dat'; fs='$TMP/paired.dat'; out='$TMP/d.png'" plots/cnn_cp_depth.gp
  [ -s "$TMP/d.png" ] && ok || bad "fig-depth: no PNG"
  expect_exit 0 fig-window gnuplot -e "f='$TMP/p0.dat'; ff='$TMP/fisher.dat'; out='$TMP/w.png'" plots/cnn_cp_window.gp
  [ -s "$TMP/w.png" ] && ok || bad "fig-window: no PNG"
fi
# no figure script runs a shell (another program's output is never plotted)
for g in plots/cnn_cp_restart.gp plots/cnn_cp_depth.gp plots/cnn_cp_window.gp plots/cnn_cp_deficits.gp; do
  grep -q 'system\|"<\|'"'"'<' "$g" && bad "$g runs a shell command" || ok
done
done_checks test_cli_science_more
