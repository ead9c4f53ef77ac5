# tests/test_cli_flow.sh - `critsim flow` end to end: outputs, equivalences, every bad-input class.
. tests/lib.sh
D=$TMP

# --help lists every option with its default
expect_exit 0 help $CS flow --help
for o in task arch shared-input pathways depth width loss target target2 observed sigma-xx sigma-yx \
         init init-scale init-k init-eps init-noise init-weights method lr steps every epsabs epsrel deficit \
         seed out switch-sweep continue act act-output precision; do
  expect_grep "help lists --$o" "--$o" "$TMP/out"
done

# a small multipath run: tables, columns, final.dat, weights, snapshots
expect_exit 0 run $CS flow --task hier --shared-input --depth 3 --width 20 --loss sum --init aligned \
  --init-k 0.01 --steps 300 --every 50 --deficit gate:b@0-100 --out "$D/r1"
expect_grep "loss columns" '^# step train_loss test_loss$' "$D/r1/loss.dat"
expect_grep "modes columns" '^# step mode s K_a K_b$' "$D/r1/modes.dat"
expect_grep "sv columns" '^# step index sigma_a sigma_b sigma_total$' "$D/r1/sv.dat"
expect_grep "last row at step 300" '^300 ' "$D/r1/loss.dat"
expect_grep "final_loss" '^final_loss ' "$D/r1/final.dat"
expect_grep "share_b_m0" '^share_b_m0 ' "$D/r1/final.dat"
expect_grep "provenance" 'method = gd' "$D/r1/loss.dat"
[ -f "$D/r1/weights_b_3.npy" ] && ok || bad "weights_b_3.npy missing"
[ -f "$D/r1/snap/index.dat" ] && ok || bad "snap/index.dat missing"
rows=$(grep -v '^#' "$D/r1/modes.dat" | wc -l)
[ "$rows" -eq 56 ] && ok || bad "modes.dat has $rows rows, want 7 steps x 8 modes = 56"
# early gate: share of b in mode 0 is small
awk '$1=="share_b_m0" { exit !($2 < 0.2) }' "$D/r1/final.dat" && ok || bad "early gate share_b_m0 not small"

# the analyzer reads flow's snapshots (shared layout here; fused with hidden maps below)
if $CS analyze --help >/dev/null 2>&1; then
  expect_exit 0 analyze-paths $CS analyze --run "$D/r1"
  expect_exit 0 fused-snap $CS flow --task hier --arch fused --sources 2 --depth 2 --width 6 --steps 40 --every 20 \
    --out "$D/fu"
  expect_exit 0 analyze-fused $CS analyze --run "$D/fu"
fi

# gd and euler are the same update
$CS flow --task lowrank --arch fused --depth 2 --width 6 --steps 50 --method euler --out "$D/e" 2>/dev/null
$CS flow --task lowrank --arch fused --depth 2 --width 6 --steps 50 --method gd --out "$D/g" 2>/dev/null
grep -v '^#' "$D/e/loss.dat" > "$D/e.rows"; grep -v '^#' "$D/g/loss.dat" > "$D/g.rows"
cmp -s "$D/e.rows" "$D/g.rows" && ok || bad "euler != gd"

# gradient flow runs and records at the same steps
expect_exit 0 flow $CS flow --task lowrank --arch fused --depth 2 --width 6 --steps 50 --every 10 --lr 0.05 \
  --method rkf45 --epsabs 1e-9 --epsrel 1e-9 --out "$D/f"
expect_grep "flow rows" '^50 ' "$D/f/loss.dat"
expect_grep "solver stats" 'rhs evaluations' "$D/f/loss.dat"

# gradient flow honours a gate window exactly: K_b of every mode is unchanged on [0, 100)
expect_exit 0 flow-gate $CS flow --task hier --shared-input --depth 2 --width 10 --loss sum --init aligned \
  --init-k 0.05 --method rk8pd --lr 0.01 --steps 150 --every 50 --deficit gate:b@0-100 --out "$D/fg"
awk '!/^#/ && $1 == 0 { k0[$2] = $5 } !/^#/ && $1 == 100 { if ($5 != k0[$2]) bad = 1; n++ } !/^#/ && $1 == 150 && $2 == 0 { moved = ($5 != k0[0]) }
     END { exit !(n == 8 && !bad && moved) }' "$D/fg/modes.dat" && ok || bad "flow gate: K_b changed inside the window or not after"

# switch sweep: every branch equals the standalone run with switch@T (GD is deterministic)
expect_exit 0 sweep $CS flow --task completion --n 12 --rank 3 --rank2 1 --n-obs 60 --arch fused --depth 2 \
  --width 12 --lr 0.5 --init-scale 0.1 --every 10 --switch-sweep 5,20 --continue 30 --out "$D/sw"
expect_exit 0 standalone $CS flow --task completion --n 12 --rank 3 --rank2 1 --n-obs 60 --arch fused --depth 2 \
  --width 12 --lr 0.5 --init-scale 0.1 --every 10 --deficit switch@20 --steps 50 --out "$D/single"
a=$(awk '$1=="test_loss"{print $2}' "$D/sw/switch_20/final.dat"); b=$(awk '$1=="test_loss"{print $2}' "$D/single/final.dat")
[ -n "$a" ] && [ "$a" = "$b" ] && ok || bad "switch sweep branch 20 test_loss '$a' != standalone '$b'"
expect_grep "sweep summary" '^5 35 ' "$D/sw/switch_sweep.dat"
expect_grep "sweep summary 20" '^20 50 ' "$D/sw/switch_sweep.dat"
[ -f "$D/sw/switch_5/sv.dat" ] && ok || bad "branch sv.dat missing"
# branches run in parallel processes: --jobs 1 and --jobs 3 give the same tables, row for row
SW="--task completion --n 12 --rank 3 --rank2 1 --n-obs 60 --arch fused --depth 3 --width 12 --lr 0.5 --init-scale 0.1 --every 10"
expect_exit 0 sweep-j1 $CS flow $SW --switch-sweep 1,5,20,40 --continue 30 --jobs 1 --out "$D/swj1"
expect_exit 0 sweep-j3 $CS flow $SW --switch-sweep 1,5,20,40 --continue 30 --jobs 3 --out "$D/swj3"
for f in switch_sweep.dat loss.dat switch_1/loss.dat switch_5/sv.dat switch_20/modes.dat switch_40/final.dat; do
  [ -s "$D/swj1/$f" ] && [ "$(grep -v '^#' "$D/swj1/$f")" = "$(grep -v '^#' "$D/swj3/$f")" ] && ok || bad "switch sweep --jobs 1 vs 3: $f differs or is missing"
done
# --threads: one gradient split over threads gives the same trajectory, bit for bit (D = 2, 3, 4), and a
# switch sweep whose trunk has threads forks branches that run on one
for dd in 2 3 4; do
  expect_exit 0 "threads1 D$dd" $CS flow $SW --depth $dd --steps 40 --threads 1 --out "$D/t1_$dd"
  # 2 threads split the 12 rows 6 + 6 (not a multiple of 4: the small kernel's row blocks), 3 split 4 + 4 + 4
  for th in 2 3; do
    expect_exit 0 "threads$th D$dd" $CS flow $SW --depth $dd --steps 40 --threads $th --out "$D/t${th}_$dd"
    for f in loss.dat sv.dat final.dat; do
      [ "$(grep -v '^#' "$D/t1_$dd/$f")" = "$(grep -v '^#' "$D/t${th}_$dd/$f")" ] && ok || bad "--threads 1 vs $th, D = $dd: $f differs"
    done
    cmp -s "$D/t1_$dd/weights_a_1.npy" "$D/t${th}_$dd/weights_a_1.npy" && ok || bad "--threads 1 vs $th, D = $dd: weights differ"
  done
done
expect_exit 0 sweep-threads $CS flow $SW --switch-sweep 1,5,20,40 --continue 30 --jobs 2 --threads 2 --out "$D/swt"
[ "$(grep -v '^#' "$D/swj1/switch_sweep.dat")" = "$(grep -v '^#' "$D/swt/switch_sweep.dat")" ] && ok || bad "switch sweep with --threads 2 differs"
expect_exit 2 threads-0 $CS flow $SW --threads 0 --out "$D/x"
# the item step on a team (linear pathways on the whole input, width >= 256: one pathway per member;
# here 3 pathways on 2 threads, b gated for a while, every step recorded): the same bits as one thread
MP="--task hier --shared-input --pathways 3 --depth 3 --width 256 --loss sum --init aligned --init-eps 0.01 --lr 0.01 --steps 30 --every 1 --deficit gate:b@5-15"
for T in 1 2; do expect_exit 0 "items threads$T" $CS flow $MP --threads $T --out "$D/it$T"; done
for f in loss.dat modes.dat sv.dat final.dat; do
  [ -s "$D/it1/$f" ] && [ "$(grep -v '^#' "$D/it1/$f")" = "$(grep -v '^#' "$D/it2/$f")" ] && ok || bad "item step --threads 1 vs 2: $f differs or is missing"
done
for f in weights_a_2.npy weights_b_3.npy weights_c_1.npy; do
  cmp -s "$D/it1/$f" "$D/it2/$f" && ok || bad "item step --threads 1 vs 2: $f differs"
done
# branches that diverge are reported on stderr, their rows are nan, and the exit status is 1
expect_exit 1 sweep-diverge $CS flow $SW --lr 40 --switch-sweep 1,2 --continue 200 --jobs 2 --out "$D/swd"
[ "$(grep -v '^#' "$D/swd/switch_sweep.dat" | grep -c nan)" -ge 1 ] && ok || bad "diverging branch: no nan row in switch_sweep.dat"

# a latent task of k = 3 has 3 modes: final.dat and the snapshot carry shares of those only (the other
# singular values are rounding of 0, whose split between pathways means nothing)
expect_exit 0 latent-modes $CS flow --task latent --latent-dim 3 --n-out 6 --redundancy 0 --steps 50 --out "$D/latm"
[ "$(grep -c '^share_b_m[0-9]* ' "$D/latm/final.dat")" = 3 ] && ok || bad "latent k = 3: want 3 share keys in final.dat"
# ... which are one degenerate block (equal singular values): its share summed over the block, too
[ "$(grep -c '^share_b_m0_2 ' "$D/latm/final.dat")" = 1 ] && ok || bad "latent k = 3: want the block key share_b_m0_2"
expect_grep "latent snapshot rank" '^# rank = 3$' "$D/latm/snap/index.dat"
# latent task with input deficits, fused and per-source pathways
expect_exit 0 latent $CS flow --task latent --latent-dim 3 --n-out 4 --redundancy 0.3 --synergy 0.2 --noise-var 0.1,0.2 \
  --arch fused --depth 2 --width 8 --steps 60 --every 20 --deficit decorrelate@0-30 --deficit noise:a:0.5@10-40 \
  --deficit remove:b@0-20 --out "$D/lat"
expect_grep "latent rows" '^60 ' "$D/lat/loss.dat"
expect_exit 0 latent-paths $CS flow --task latent --latent-dim 3 --arch paths --depth 3 --width 5 --steps 20 --out "$D/lat2"
expect_exit 2 latent-noise-count $CS flow --task latent --noise-var 1,2,3 --out "$D/x"

# matrices from files: target, observed, sigma files, init weights
printf '1 0 0\n0 1 0\n0 0 1\n' > "$D/sxx.txt"
printf '1 2 3\n4 5 6\n' > "$D/syx.txt"
expect_exit 0 files $CS flow --sigma-xx "$D/sxx.txt" --sigma-yx "$D/syx.txt" --arch fused --depth 1 --steps 400 \
  --lr 0.1 --out "$D/fi"
awk '!/^#/ {l=$2} END {exit !(l < 1e-6)}' "$D/fi/loss.dat" && ok || bad "file task did not converge"
printf '1 0 0\n0 1 0\n' > "$D/w1.txt"
printf '1 1\n' > "$D/w2.txt"
expect_exit 0 init-weights $CS flow --task lowrank --n-out 1 --n-in 3 --sv 1 --arch fused --depth 2 --width 2 \
  --init-weights "$D/w1.txt,$D/w2.txt" --steps 1 --out "$D/iw"

# bad input: exit 2, one line
expect_exit 2 depth0 $CS flow --depth 0 --out "$D/x"
expect_exit 2 badtask $CS flow --task bogus --out "$D/x"
expect_exit 2 badarch $CS flow --arch bogus --out "$D/x"
expect_exit 2 badmethod $CS flow --method bogus --out "$D/x"
expect_exit 2 badloss $CS flow --loss median --out "$D/x"
expect_exit 2 lr0 $CS flow --lr 0 --out "$D/x"
expect_exit 2 aligned-separate $CS flow --init aligned --out "$D/x"
expect_exit 2 gate-c $CS flow --deficit gate:c@0-10 --out "$D/x"
expect_exit 2 lesion-mode $CS flow --shared-input --deficit lesion:a:8@0-10 --out "$D/x"
expect_exit 2 subset-hier $CS flow --deficit subset:3@0-10 --out "$D/x"
expect_exit 2 remove-completion $CS flow --task completion --n 5 --n-obs 5 --rank 1 --deficit remove:a@0-2 --out "$D/x"
expect_exit 2 window $CS flow --deficit gate:b@10-5 --out "$D/x"
expect_exit 2 sweep-order $CS flow --task completion --n 5 --n-obs 5 --rank 1 --switch-sweep 5,3 --out "$D/x"
expect_exit 2 paths-sources $CS flow --pathways 3 --sources 2 --out "$D/x"
printf '1 2\n3 4\n' > "$D/sxx2.txt"
expect_exit 2 sxx-dims $CS flow --sigma-xx "$D/sxx2.txt" --sigma-yx "$D/syx.txt" --out "$D/x"
expect_grep "sxx message names the option" 'sigma-xx' "$TMP/err"
printf '1 2 x\n' > "$D/bad.txt"
expect_exit 2 malformed-target $CS flow --target "$D/bad.txt" --out "$D/x"
expect_exit 2 missing-target $CS flow --target "$D/nonexistent.txt" --out "$D/x"
printf '0 0\n9 9\n' > "$D/obs.txt"
expect_exit 2 observed-range $CS flow --task completion --target "$D/syx.txt" --observed "$D/obs.txt" --out "$D/x"
printf 'zero one\n' > "$D/obs2.txt"
expect_exit 2 observed-malformed $CS flow --task completion --target "$D/syx.txt" --observed "$D/obs2.txt" --out "$D/x"
expect_exit 2 observed-item $CS flow --observed "$D/obs.txt" --out "$D/x"
expect_exit 2 target2-dims $CS flow --task completion --target "$D/syx.txt" --target2 "$D/sxx.txt" --n-obs 3 \
  --deficit switch@3 --out "$D/x"
expect_exit 2 init-weights-count $CS flow --task lowrank --n-out 1 --n-in 3 --sv 1 --arch fused --depth 2 --width 2 \
  --init-weights "$D/w1.txt" --out "$D/x"
expect_exit 2 init-weights-dims $CS flow --task lowrank --n-out 1 --n-in 3 --sv 1 --arch fused --depth 2 --width 2 \
  --init-weights "$D/w2.txt,$D/w1.txt" --out "$D/x"
expect_grep "init-weights message names the layer" 'layer 1' "$TMP/err"

# --act linear is the default, bit for bit: every table equal but for the command and wall-time lines,
# every array byte-identical
F2="--task hier --shared-input --depth 3 --width 20 --loss sum --init aligned --init-eps 0.01 --init-noise 0.1 \
  --steps 200 --every 20 --deficit gate:b@0-50"
expect_exit 0 act-default $CS flow $F2 --out "$D/ad"
expect_exit 0 act-linear $CS flow $F2 --act linear --out "$D/al"
for f in loss.dat modes.dat sv.dat final.dat snap/index.dat; do
  [ "$(grep -v -e '^# command' -e 'wall time' "$D/ad/$f")" = "$(grep -v -e '^# command' -e 'wall time' "$D/al/$f")" ] \
    && ok || bad "--act linear differs from the default: $f"
done
for f in weights_a_1.npy weights_b_3.npy snap/map_a.npy snap/map_b.npy; do
  cmp -s "$D/ad/$f" "$D/al/$f" && ok || bad "--act linear differs from the default: $f"
done
expect_grep "act in the header" '^# act = linear' "$D/ad/loss.dat"
expect_grep "act in final.dat" '^# act = linear' "$D/ad/final.dat"
# pathway ablation at the aligned init (--steps 0): the map is U diag(K) V^T per pathway, so without
# one pathway the sum loss is 1/2 sum_a (s_a - 0.01)^2 = 15.860571637... (sum s^2 = 32)
expect_exit 0 ablation0 $CS flow --task hier --shared-input --depth 3 --width 12 --loss sum --init aligned \
  --init-k 0.01 --steps 0 --out "$D/ab0"
want=$(awk 'BEGIN { split("15 7 3 3 1 1 1 1", q, " "); for (i = 1; i <= 8; i++) l += 0.5 * (sqrt(q[i]) - 0.01)^2; printf "%.15g", l }')
for k in a b; do
  awk -v w="$want" -v k="loss_without_$k" '$1 == k { f = 1; d = $2 - w; if (d < 0) d = -d; exit !(d < 1e-12 * w) } END { if (!f) exit 1 }' \
    "$D/ab0/final.dat" && ok || bad "loss_without_$k at the aligned init is not 1/2 sum (s - 0.01)^2 = $want"
done
# fused: one key per source (the source's inputs zeroed)
expect_grep "fused ablation keys" '^loss_without_b ' "$D/fu/final.dat"

# nonlinear pathways: relu and tanh on the one-hot tasks, every architecture, GD and gradient flow
for a in relu tanh; do
  expect_exit 0 "act $a paths" $CS flow $F2 --act $a --act-output --out "$D/n_$a"
  expect_grep "act $a header" "^# act = $a after every hidden layer and after each pathway's last layer" "$D/n_$a/modes.dat"
  expect_grep "act $a final.dat" "^# act = $a" "$D/n_$a/final.dat"
  expect_grep "act $a ablation" '^loss_without_b ' "$D/n_$a/final.dat"
  [ ! -e "$D/n_$a/snap/hidden_a.npy" ] && ok || bad "act $a wrote hidden maps"
  expect_exit 0 "act $a fused" $CS flow --task lowrank --n-in 6 --n-out 5 --sv 3,2,1 --arch fused --depth 3 --width 5 \
    --act $a --init orthogonal --init-scale 1 --deficit remove:b@0-20 --steps 40 --every 10 --out "$D/nf_$a"
  [ -s "$D/nf_$a/snap/sv_a.npy" ] && [ -s "$D/nf_$a/snap/sv_b.npy" ] && [ ! -e "$D/nf_$a/snap/hidden_a.npy" ] \
    && ok || bad "act $a fused: want sampled sv_a/sv_b.npy and no hidden maps"
  expect_grep "act $a units" '^# n_units = 30$' "$D/nf_$a/snap/index.dat"
  expect_exit 0 "act $a analyze" $CS analyze --run "$D/nf_$a"
  expect_grep "act $a rsv from the engine" 'estimated by the engine' "$D/nf_$a/rsv.dat"
  rows=$(grep -v '^#' "$D/nf_$a/rsv.dat" | wc -l)
  [ "$rows" -eq 150 ] && ok || bad "act $a rsv.dat: $rows rows, want 5 snapshots x 30 units"
  expect_exit 0 "act $a target file" $CS flow --target "$D/syx.txt" --sources 1 --pathways 1 --depth 2 --width 3 \
    --act $a --steps 5 --out "$D/nt_$a"
done
expect_exit 0 tanh-rk8pd $CS flow --task hier --shared-input --depth 3 --width 8 --act tanh --act-output --method rk8pd \
  --lr 0.05 --steps 60 --every 20 --init-scale 0.5 --deficit gate:b@0-20 --deficit lesion:a:1@0-60 --out "$D/ntf"
expect_grep "tanh flow rows" '^60 ' "$D/ntf/loss.dat"
expect_exit 0 relu-rk8pd-d2 $CS flow --task hier --shared-input --depth 2 --width 8 --act relu --method rk8pd \
  --lr 0.05 --steps 40 --every 20 --init aligned --init-k 0.05 --out "$D/nrf"
# inside critsim sweep: the activation is an axis like any option
printf 'command = flow\ntask = hier\nshared-input = true\ndepth = 2\nwidth = 6\nsteps = 20\nevery = 20\nact-output = true\n[sweep]\nvary = act=linear,relu,tanh\n' > "$D/act.ini"
expect_exit 0 act-sweep $CS sweep --model "$D/act.ini" --jobs 1 --out "$D/asw"
[ "$(grep -v '^#' "$D/asw/summary.dat" | grep -c ' 0$')" = 3 ] && ok || bad "act sweep: want 3 points with status 0"
# bad input: a nonlinear network needs input samples; misspelt activations
expect_exit 2 act-latent $CS flow --task latent --act relu --out "$D/x"
expect_grep "act-latent names the conflict" 'latent task' "$TMP/err"
expect_exit 2 act-completion $CS flow --task completion --arch fused --n 5 --n-obs 5 --rank 1 --act tanh --out "$D/x"
expect_exit 2 act-sigma $CS flow --sigma-xx "$D/sxx.txt" --sigma-yx "$D/syx.txt" --arch fused --act relu --out "$D/x"
expect_grep "act-sigma names the conflict" 'sigma-xx' "$TMP/err"
expect_exit 2 act-noise $CS flow --act relu --deficit noise:b:0.5@0-10 --out "$D/x"
expect_grep "act-noise names the conflict" 'noise' "$TMP/err"
expect_exit 2 act-decorrelate $CS flow --arch fused --act tanh --deficit decorrelate@0-10 --out "$D/x"
expect_exit 2 act-misspelt $CS flow --act Relu --out "$D/x"
expect_exit 2 act-unknown $CS flow --act sigmoid --out "$D/x"
# (ReLU flows that slide along a kink fail with exit 1 after 100000 solver steps, ~10 s: tested on the
# library with a lower bound in tests/test_dln.c)

# --precision single (completion, float32 step): recorded in every table, close to double (1e-4 relative
# on the final test loss: float32 rounding ~6e-8 per operation on a contracting trajectory)
MC="--task completion --n 20 --rank 3 --rank2 2 --n-obs 150 --arch fused --depth 3 --width 20 --lr 0.5 --init-scale 0.1 --steps 300 --every 100"
expect_exit 0 single $CS flow $MC --deficit switch@150 --precision single --out "$D/sp1"
expect_exit 0 double $CS flow $MC --deficit switch@150 --out "$D/sp2"
for f in loss.dat modes.dat sv.dat final.dat; do expect_grep "precision in $f" '^# precision = single' "$D/sp1/$f"; done
expect_grep "precision double recorded" '^# precision = double' "$D/sp2/loss.dat"
a=$(awk '$1=="test_loss"{print $2}' "$D/sp1/final.dat"); b=$(awk '$1=="test_loss"{print $2}' "$D/sp2/final.dat")
awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-4 * b && a != b) }' && ok \
  || bad "single vs double test_loss: $a vs $b (want within 1e-4 relative and not identical)"
expect_exit 2 single-hier $CS flow --precision single --out "$D/x"
expect_exit 2 single-flow $CS flow $MC --precision single --method rk8pd --out "$D/x"
expect_exit 2 single-threads $CS flow $MC --precision single --threads 2 --out "$D/x"
expect_exit 2 precision-misspelt $CS flow $MC --precision half --out "$D/x"

# numerical failure: exit 1, tables published with a FAILED line
expect_exit 1 diverge $CS flow --task lowrank --arch fused --depth 3 --width 5 --lr 100 --init-scale 1 --steps 200 \
  --out "$D/div"
expect_grep "FAILED line" '^# FAILED at step' "$D/div/loss.dat"

done_checks test_cli_flow
