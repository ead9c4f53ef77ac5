#!/bin/sh
# check_cp_restart.sh - the effect assertions of the learning-rate restart experiment
# (models/cnn_cp_restart.ini, issue 11 experiment 6 on experiment 1), run by `make check-science` on the
# sweep's summary_seeds.dat: blur to 4 x 4 or the vertical flip on [0, t0), then the learning rate back
# at lr0 and 12 clean epochs; controls blur:4@0-0 (12 epochs) and blur:4@12-12 (12 clean epochs, the
# restart, 12 more: the same epochs and learning rates as the t0 = 12 runs).
# Assertions as in check_cp_deficits.sh (tests/science/check_effects.sh: `below A B K` = mean_A below
# mean_B by more than K pooled seed sd, `within A B K` = no more than K pooled sd apart), margin K = 2
# unless stated, each backed by the measurement named in its comment (3 seeds, paper section 5).
#   sh tests/science/check_cp_restart.sh results/sweep/cnn_cp_restart/summary_seeds.dat [SEEDS]
f=$1; seeds=${2:-3}
sed 's/#.*//' <<'A' | sh "$(dirname "$0")/check_effects.sh" "$f" "$seeds" check_cp_restart
# the restart removes the blur loss: blurred runs end level with the deficit-free 12-epoch run, whose
# clean learning rates they share (measured: 0.06, 0.20 and 0.22 pooled sd apart at t0 = 4, 8, 12; a
# margin of 2 pooled sd is 0.017 in accuracy there, the control's seed sd being 0.012)
within blur:4@0-4   blur:4@0-0    2
within blur:4@0-8   blur:4@0-0    2
within blur:4@0-12  blur:4@0-0    2
# the restarted deficit-free run of 24 epochs is above the 12-epoch one in every seed (paired gain
# 0.015 +- 0.003), but unpaired only 1.4 pooled sd: not asserted; neither is blur below the flip
# (1.5-3.0 pooled sd at t0 = 4-12) nor blur below the 24-epoch restarted control (2.3)
A
