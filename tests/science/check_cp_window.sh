#!/bin/sh
# check_cp_window.sh - the effect assertions of the sliding-window experiment (models/cnn_cp_window.ini,
# issue 11 experiment 2), run by `make check-science` on the sweep's summary_seeds.dat: a blur (to 4 x 4)
# window of 4 epochs [s, s + 4) within 20 epochs of training with the decaying learning rate, against
# the deficit-free 20-epoch run blur:4@0-0 (same seeds, same epochs and learning rates).
# Assertions as in check_cp_deficits.sh (tests/science/check_effects.sh: `below A B K` = mean_A below
# mean_B by more than K pooled seed sd), margin K = 2, each backed by the measurement named in its
# comment (3 seeds, 2026-12-05, paper section 5; only effects of at least 5 pooled sd are asserted).
#   sh tests/science/check_cp_window.sh results/sweep/cnn_cp_window/summary_seeds.dat [SEEDS]
f=$1; seeds=${2:-3}
sed 's/#.*//' <<'A' | sh "$(dirname "$0")/check_effects.sh" "$f" "$seeds" check_cp_window
# an early window costs accuracy: s = 0 is below the deficit-free run (measured 16 pooled sd)
below blur:4@0-4   blur:4@0-0    2
# sensitivity falls with the onset: s = 0 and s = 2 below s = 8 (measured 7.0 and 5.1 pooled sd); the
# windows at s = 8 and 12 against the deficit-free run (2.0 and 1.9 pooled sd) are not asserted
below blur:4@0-4   blur:4@8-12   2
below blur:4@2-6   blur:4@8-12   2
A
