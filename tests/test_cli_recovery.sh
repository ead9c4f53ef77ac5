#!/bin/sh
# test_cli_recovery.sh - plots/recovery.awk (recovery time after a deficit, from a `critsim sweep
# --full` folder) on a planted sweep: a control (end = 0) and a deficit ending at step 20 whose share of
# b and test loss return geometrically (halving every 10 steps), with a relapse of the share at step
# 80; the recovery times follow by hand.  A missing control or table exits 2 naming it.  No engine run.
. "$(dirname "$0")/lib.sh"
AWKF=plots/recovery.awk
S=$TMP/sw
mkdir -p "$S/points/c0" "$S/points/d1"
cat >"$S/grid.dat" <<'G'
# critsim 0.1.0: grid.dat
# index id deficit end depth
0 c0 remove:b@0-0 0 1
1 d1 remove:b@0-20 20 1
G
# modes.dat: mode 0 (s = 2) carries the share; mode 1 has s = 1e-20 (a rounding-size mode, left out:
# its K_b = 100 would swamp the share if it were counted)
awk 'BEGIN {
  print "# step mode s K_a K_b" > "'"$S"'/points/c0/modes.dat"
  print "# step train_loss test_loss" > "'"$S"'/points/c0/loss.dat"
  print "# step mode s K_a K_b" > "'"$S"'/points/d1/modes.dat"
  print "# step train_loss test_loss" > "'"$S"'/points/d1/loss.dat"
  for (t = 0; t <= 100; t += 10) {
    printf "%d 0 2 1 1\n%d 1 1e-20 0 100\n", t, t > "'"$S"'/points/c0/modes.dat"
    printf "%d 1 1\n", t > "'"$S"'/points/c0/loss.dat"
    g = t < 20 ? 1 : 0.5 ^ ((t - 20) / 10)
    x = t < 20 ? 0 : 1 - g
    if (t == 80) x = 0.5
    printf "%d 0 2 1 %.17g\n%d 1 1e-20 0 100\n", t, x, t > "'"$S"'/points/d1/modes.dat"
    printf "%d %.17g %.17g\n", t, 1 + g, 1 + g > "'"$S"'/points/d1/loss.dat"
  }
}'
expect_exit 0 recovery-ok awk -v S="$S" -v by=end -v tol_share=0.01 -v tol_loss=0.01 -f $AWKF "$S/grid.dat"
cp "$TMP/out" "$TMP/rec.dat"
expect_grep recovery-columns '^# depth end t_share t_loss share_end share_final share0_final excess_end excess_final$' "$TMP/rec.dat"
# share x/(1+x) with x = 1 - 0.5^((t-20)/10) is within 0.01 of 0.5 from t = 70 (x >= 0.49/0.51), but the
# relapse at 80 moves it to 90: t_share = 90 - 20 = 70.  Excess loss 0.5^((t-20)/10) <= 0.01 from t = 90
# (6.64 halvings): t_loss = 70.  share_end = 0 (x = 0 at t = 20), excess_end = 1, share0_final = 0.5;
# at t = 100, 8 halvings: excess 2^-8, share (1 - 2^-8) / (2 - 2^-8) = 0.49902152641878667.
row=$(awk '!/^#/' "$TMP/rec.dat")
if [ "$row" = "1 20 70 70 0 0.49902152641878667 0.5 1 0.00390625" ]; then ok; else bad "recovery row: got '$row'"; fi
# never recovered: tolerances so tight that the last step fails -> nan
awk -v S="$S" -v by=end -v tol_share=1e-6 -v tol_loss=1e-6 -f $AWKF "$S/grid.dat" >"$TMP/rec2.dat"
if [ "$(awk '!/^#/ { print $3, $4 }' "$TMP/rec2.dat")" = "nan nan" ]; then ok; else bad "unrecovered: want nan nan"; fi
# a point without a control of the same other columns, and a missing table: exit 2 naming them
printf '2 d2 remove:b@0-20 20 2\n' >>"$S/grid.dat"
expect_exit 2 no-control awk -v S="$S" -v by=end -v tol_share=0.01 -v tol_loss=0.01 -f $AWKF "$S/grid.dat"
expect_grep no-control-msg 'no control with end = 0' "$TMP/err"
sed -i '$d' "$S/grid.dat"
rm "$S/points/d1/loss.dat"
expect_exit 2 missing-table awk -v S="$S" -v by=end -v tol_share=0.01 -v tol_loss=0.01 -f $AWKF "$S/grid.dat"
expect_grep missing-names-file 'd1/loss.dat' "$TMP/err"
done_checks test_cli_recovery
