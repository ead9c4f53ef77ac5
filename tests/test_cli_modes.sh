# tests/test_cli_modes.sh - `critsim modes` and `critsim phase` end to end: outputs, the main job, every
# bad-input class (exit 2 with one stderr line) and the numerical-failure path (exit 1, FAILED line).
. tests/lib.sh
D=$TMP

expect_exit 0 help $CS modes --help
for o in depth sv init-p init-k init c dt steps every pathways deficit method epsabs epsrel out headline; do
  expect_grep "help lists --$o" "--$o" "$TMP/out"
done

# a run: columns, row thinning (0, multiples of every, always the last), provenance, final.dat
expect_exit 0 run $CS modes --depth 4 --steps 105 --every 50 --deficit gate:b@0-150 --out "$D/r1"
expect_grep "columns" '^# step mode s K_a K_b$' "$D/r1/modes.dat"
expect_grep "method in header" '^# method = euler; dt = 0.01' "$D/r1/modes.dat"
expect_grep "solver statistics" '^# solver statistics: steps = 105' "$D/r1/modes.dat"
expect_grep "deficit in header" 'deficit = gate:b@0-150' "$D/r1/modes.dat"
steps=$(grep -v '^#' "$D/r1/modes.dat" | awk '{print $1}' | uniq | tr '\n' ' ')
[ "$steps" = "0 50 100 105 " ] && ok || bad "recorded steps '$steps', want '0 50 100 105 '"
rows=$(grep -vc '^#' "$D/r1/modes.dat")
[ "$rows" -eq 32 ] && ok || bad "modes.dat has $rows rows, want 4 x 8"
for k in final_loss share_b_m0 share_b_m7 K_a_m0 K_b_m7; do expect_grep "final.dat $k" "^$k " "$D/r1/final.dat"; done
ls -a "$D/r1" | grep -q '\.tmp\|\.body' && bad "temporary files left in $D/r1" || ok

# three pathways add K_c; gd is euler; a model file is read and the command line overrides it
expect_exit 0 three $CS modes --pathways 3 --depth 2 --steps 10 --out "$D/r3"
expect_grep "K_c column" '^# step mode s K_a K_b K_c$' "$D/r3/modes.dat"
expect_exit 0 gd $CS modes --method gd --depth 3 --steps 300 --every 300 --deficit gate:b@0-50 --out "$D/gd"
expect_exit 0 eu $CS modes --method euler --depth 3 --steps 300 --every 300 --deficit gate:b@0-50 --out "$D/eu"
cmp -s "$(grep -v '^#' "$D/gd/modes.dat" >"$D/a"; echo "$D/a")" "$(grep -v '^#' "$D/eu/modes.dat" >"$D/b"; echo "$D/b")" \
  && ok || bad "--method gd and euler differ"
printf 'command = modes\ndepth = 3\nsteps = 20\nsv = 2,1\n' >"$D/m.ini"
expect_exit 0 model $CS modes --model "$D/m.ini" --depth 2 --out "$D/rm"
expect_grep "model + override" 'depth = 2; pathways = 2; modes = 2' "$D/rm/modes.dat"
# the header records the model file's values (not on the command line); the overridden depth is not among them
expect_grep "model values in the header" '^# from the model file: sv = 2,1; steps = 20$' "$D/rm/modes.dat"

# continuous time and closed forms agree (D = 2, gate, exact vs rk8pd vs msbdf to 1e-8)
for meth in exact rk8pd rkf45 msbdf; do
  expect_exit 0 "$meth" $CS modes --method $meth --depth 2 --sv 3,1 --steps 400 --every 400 --deficit gate:b@0-40 \
    --epsabs 1e-12 --epsrel 1e-12 --out "$D/$meth"
done
for meth in rk8pd rkf45 msbdf; do
  paste "$D/exact/final.dat" "$D/$meth/final.dat" | awk '!/^#/ { d = $2 - $4; if (d < 0) d = -d; if (d > 1e-8) bad = 1 } END { exit bad }' \
    && ok || bad "$meth differs from exact by more than 1e-8"
done
expect_grep "tolerances in header" '^# epsabs = 1e-12; epsrel = 1e-12' "$D/rk8pd/modes.dat"
expect_grep "rhs count" 'rhs evaluations = [1-9]' "$D/rk8pd/modes.dat"
# D = 4, symmetric pathways, through convergence (the closed form's fixed point K = s): exact vs rk8pd 1e-9
expect_exit 0 "exact D4 long" $CS modes --method exact --depth 4 --steps 3000 --every 500 --out "$D/ex4"
expect_exit 0 "rk8pd D4 long" $CS modes --method rk8pd --depth 4 --steps 3000 --every 500 --epsabs 1e-12 --epsrel 1e-12 --out "$D/rk4"
paste "$D/ex4/final.dat" "$D/rk4/final.dat" | awk '!/^#/ { d = $2 - $4; if (d < 0) d = -d; if (d > 1e-9) bad = 1 } END { exit bad }' \
  && ok || bad "D = 4 exact and rk8pd differ by more than 1e-9"
expect_exit 2 "exact D3 asymmetric" $CS modes --method exact --depth 3 --deficit gate:b@0-10 --steps 20 --out "$D/x"

# the main job
expect_exit 0 headline $CS modes --headline --out "$D/hl"
expect_grep "headline table" '^4 +early ' "$TMP/out"
expect_grep "headline share.dat" '^# depth window mode s share_b K_a K_b$' "$D/hl/share.dat"
rows=$(grep -vc '^#' "$D/hl/share_early.dat")
[ "$rows" -eq 6 ] && ok || bad "share_early.dat has $rows rows, want 6 depths"
[ -f "$D/hl/d6/late/modes.dat" ] && [ -f "$D/hl/d1/early/final.dat" ] && ok || bad "headline run folders missing"
awk '!/^#/ && $2 == 2 { d = $5 - 0.5; if (d < 0) d = -d; if (d > 1e-3) bad = 1 } END { exit bad }' "$D/hl/share.dat" \
  && ok || bad "late gate changed the share"

# bad input of every kind: exit 2, one line on stderr
expect_exit 2 "unknown option" $CS modes --depht 3
expect_exit 2 "malformed number" $CS modes --dt 0.0x1
expect_exit 2 "malformed int" $CS modes --steps 1e3x
expect_exit 2 "depth 0" $CS modes --depth 0
expect_exit 2 "negative steps" $CS modes --steps -5
expect_exit 2 "every 0" $CS modes --every 0
expect_exit 2 "window start > end" $CS modes --deficit gate:b@150-0
expect_exit 2 "unknown pathway" $CS modes --deficit gate:c@0-10
expect_exit 2 "lesion mode out of range" $CS modes --deficit lesion:a:8@0-10
expect_exit 2 "unsupported deficit" $CS modes --deficit blur:b:8@0-10
expect_exit 2 "unknown method" $CS modes --method heun
expect_exit 2 "unknown init" $CS modes --init medium
expect_exit 2 "sv not descending" $CS modes --sv 1,2
expect_exit 2 "init-k count" $CS modes --init-k 1,2,3
expect_exit 2 "init-p and init-k" $CS modes --init-p 0.1 --init-k 0.01
expect_exit 2 "dt 0" $CS modes --dt 0
expect_exit 2 "headline one pathway" $CS modes --headline --pathways 1
printf 'depth = 3\nthis is not ini\n' >"$D/bad.ini"
expect_exit 2 "malformed model file" $CS modes --model "$D/bad.ini"
expect_grep "model file line number" 'bad.ini:2' "$TMP/err"
printf 'command = flow\n' >"$D/other.ini"
expect_exit 2 "model for another command" $CS modes --model "$D/other.ini"
expect_exit 2 "missing model file" $CS modes --model "$D/none.ini"

# numerical failure: exit 1, message names step and mode, table renamed with the FAILED line
expect_exit 1 "non-finite" $CS modes --depth 2 --sv 1000 --dt 1 --init-k 1 --steps 100 --every 1 --out "$D/nan"
expect_grep "message names the step" 'step 5, mode 0' "$TMP/err"
expect_grep "FAILED line" '^# FAILED at step 5: ' "$D/nan/modes.dat"
tail -n 1 "$D/nan/modes.dat" | grep -q '^# FAILED' && ok || bad "FAILED is not the last line"
expect_grep "rows before the failure kept" '^4 0 1000 ' "$D/nan/modes.dat"

# L2: full-matrix GD (critsim flow, width 20, aligned init) equals the per-mode Euler recurrence with the same
# gating convention, every recorded step and mode (spec target 1e-10; measured ~1e-14)
expect_exit 0 "flow for L2" $CS flow --task hier --shared-input --depth 3 --width 20 --loss sum --init aligned \
  --init-k 0.01 --steps 300 --every 50 --deficit gate:b@0-100 --out "$D/l2f"
expect_exit 0 "modes for L2" $CS modes --depth 3 --steps 300 --every 50 --deficit gate:b@0-100 --out "$D/l2m"
grep -v '^#' "$D/l2f/modes.dat" >"$D/l2f.txt"; grep -v '^#' "$D/l2m/modes.dat" >"$D/l2m.txt"
paste "$D/l2f.txt" "$D/l2m.txt" | awk 'NF != 10 || $1 != $6 || $2 != $7 { bad = 1 }
  { for (k = 4; k <= 5; k++) { d = $k - $(k + 5); if (d < 0) d = -d; if (d > 1e-10) bad = 1 } } END { exit bad || NR != 56 }' \
  && ok || bad "L2: flow and modes differ by more than 1e-10"

# critsim phase: field and trajectories
expect_exit 0 "phase help" $CS phase --help
expect_exit 0 "phase random" $CS phase --depth 5 --out "$D/p1"
expect_grep "traj columns" '^# step$|^# traj step K_a K_b$' "$D/p1/traj.dat"
expect_grep "field columns" '^# K_a K_b dK_a dK_b u v$' "$D/p1/field.dat"
rows=$(grep -v '^#' "$D/p1/field.dat" | grep -c .)
[ "$rows" -eq 400 ] && ok || bad "field.dat has $rows rows, want 20 x 20"
ntraj=$(grep -v '^#' "$D/p1/traj.dat" | awk 'NF { print $1 }' | sort -un | wc -l)
[ "$ntraj" -eq 100 ] && ok || bad "traj.dat has $ntraj trajectories, want 100"
awk '$1 == "mean_share_b" { exit !($2 > 0.1 && $2 < 0.3) }' "$D/p1/final.dat" && ok || bad "D = 5 early mean share not in (0.1, 0.3)"
expect_exit 0 "phase grid small D2" $CS phase --init small --depth 2 --start grid --n 3 --steps 50 --deficit gate:b@0-0 --out "$D/p2"
ntraj=$(grep -v '^#' "$D/p2/traj.dat" | awk 'NF { print $1 }' | sort -un | wc -l)
[ "$ntraj" -eq 9 ] && ok || bad "grid start: $ntraj trajectories, want 9"
# D = 2 small init field: dK_a/dt = 2 K_a (s - K_a - K_b) (printed with 17 digits: 1e-9)
awk '!/^#/ { w = 2 * $1 * (10 - $1 - $2); d = $3 - w; if (d < 0) d = -d; if (d > 1e-9 * (1 + (w < 0 ? -w : w))) bad = 1 } END { exit bad }' "$D/p2/field.dat" \
  && ok || bad "field.dat dK_a differs from 2 K_a (s - K_a - K_b)"
expect_exit 0 "phase point fig7 D2" $CS phase --model models/phase_small.ini --depth 2 --out "$D/p7"
awk '$1 == "mean_share_b" { d = $2 - 0.3181; exit !(d < 1e-4 && d > -1e-4) }' "$D/p7/final.dat" && ok || bad "Fig. 7 D = 2 share not 0.3181"
expect_exit 2 "phase bad start" $CS phase --start everywhere
expect_exit 2 "phase n 0" $CS phase --n 0
expect_exit 2 "phase init-p 3 values" $CS phase --start point --init-p 1,2,3
expect_exit 2 "phase field-n 1" $CS phase --field-n 1
expect_exit 2 "phase unknown pathway" $CS phase --deficit gate:q@0-4
expect_exit 2 "negative singular value" $CS modes --sv 2,-1
# the message names the pathways the run has
$CS modes --deficit gate:z@0-10 2>"$D/err3"; grep -q "(this run has 2: a-b)$" "$D/err3" && ok || bad "unknown pathway message: $(cat "$D/err3")"
$CS modes --pathways 1 --deficit gate:b@0-10 2>"$D/err1"; grep -q "(this run has 1: a)$" "$D/err1" && ok || bad "unknown pathway message: $(cat "$D/err1")"

# pathway ablation: after an early gate at D = 1 the split is permanent but hidden in the output (the
# loss is ~0); without b the loss stays near 0, without a it is the loss of most of the task
expect_exit 0 ablation $CS modes --depth 1 --deficit gate:b@0-150 --out "$TMP/abl"
awk '$1 == "final_loss" { f = $2 } $1 == "loss_without_a" { a = $2 } $1 == "loss_without_b" { b = $2 }
     END { exit !(f < 1e-6 && a > 10 && b < 0.5) }' "$TMP/abl/final.dat" && ok || bad "D = 1 ablation after an early gate"
# at --steps 0 (K = 0.01 everywhere) the closed form 1/2 sum_a (s_a - 0.01)^2
expect_exit 0 ablation0 $CS modes --depth 3 --steps 0 --out "$TMP/abl0"
want=$(awk 'BEGIN { split("15 7 3 3 1 1 1 1", q, " "); for (i = 1; i <= 8; i++) l += 0.5 * (sqrt(q[i]) - 0.01)^2; printf "%.15g", l }')
awk -v w="$want" '$1 == "loss_without_b" { f = 1; d = $2 - w; if (d < 0) d = -d; exit !(d < 1e-13 * w) } END { if (!f) exit 1 }' \
  "$TMP/abl0/final.dat" && ok || bad "modes loss_without_b at K = 0.01 is not $want"
done_checks test_cli_modes
