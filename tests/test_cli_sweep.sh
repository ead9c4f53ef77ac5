#!/bin/sh
# test_cli_sweep.sh - `critsim sweep` end to end on a real engine (critsim flow, hier task, small):
# summary = individual runs; kill -9 mid-sweep + restart = uninterrupted; shards merged = unsharded;
# one diverging point reported while the rest finish; usage errors exit 2.
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1

if ! $CS flow --help >/dev/null 2>&1; then
  echo "SKIP test_cli_sweep: critsim flow is not built"; done_checks test_cli_sweep; exit $?
fi

# wait_points DIR N: until N points of the sweep in DIR are finished (at most 10 s)
wait_points() {
  k=0
  while [ "$(ls "$1"/points/*.dat 2>/dev/null | wc -l)" -lt "$2" ] && [ $k -lt 200 ]; do sleep 0.05; k=$((k + 1)); done
}

M=$TMP/m.ini
cat >"$M" <<'EOF'
# small two-pathway hierarchical task; every point takes a few milliseconds
command = flow
task = hier
width = 20
steps = 200
every = 200
snap-every = 0
[sweep]
vary = depth=1:1:3
vary = deficit=gate:b@0-{end=0:50:100}
EOF

# 1. a small grid: summary rows equal the individual runs' final.dat values
expect_exit 0 grid $CS sweep --model "$M" --jobs 2 --quiet --out "$TMP/s"
expect_grep columns '^# depth deficit end final_loss test_loss share_b_m0 .* status$' "$TMP/s/summary.dat"
n=$(grep -vc '^#' "$TMP/s/summary.dat")
[ "$n" -eq 9 ] && ok || bad "grid: $n rows, want 9"
for pt in "1 gate:b@0-50" "3 gate:b@0-100" "2 gate:b@0-0"; do
  set -- $pt
  $CS flow --model "$M" --depth "$1" --deficit "$2" --out "$TMP/one" >/dev/null 2>&1 || bad "individual run $pt failed"
  want=$(grep -v '^#' "$TMP/one/final.dat" | awk '{printf "%s ", $2}')
  got=$(awk -v d="$1" -v f="$2" '!/^#/ && $1 == d && $2 == f {for (i = 4; i < NF; i++) printf "%s ", $i}' "$TMP/s/summary.dat")
  [ -n "$want" ] && [ "$got" = "$want" ] && ok || bad "point $pt: summary '$got' != run '$want'"
done

# --full keeps each point's tables in points/ID/; by default only points/ID.dat is kept
nd=$(find "$TMP/s/points" -mindepth 1 -type d | wc -l)
[ "$nd" -eq 0 ] && ok || bad "default sweep left $nd point folders"
expect_exit 0 full $CS sweep --model "$M" --vary depth=2 --vary deficit=gate:b@0-50 --full --quiet --out "$TMP/full"
nf=$(ls "$TMP"/full/points/*/loss.dat 2>/dev/null | wc -l)
[ "$nf" -eq 1 ] && ok || bad "--full: $nf loss.dat files, want 1"

# 2. a second invocation runs nothing and rewrites the same summary
cp "$TMP/s/summary.dat" "$TMP/sum1"
$CS sweep --experiment "$M" --out "$TMP/s" 2>"$TMP/err"
expect_grep resume-skip '9 finished before, 0 run' "$TMP/err"
cmp -s "$TMP/sum1" "$TMP/s/summary.dat" && ok || bad "rerun changed summary.dat"

# 3. kill -9 mid-sweep, restart, compare with an uninterrupted sweep (slower points: width 100)
K="--model $M --vary width=100 --vary steps=1000 --vary depth=1:1:4 --vary deficit=gate:b@0-{end=0:20:100} --jobs 2 --quiet"
$CS sweep $K --out "$TMP/ref" || bad "uninterrupted sweep failed"
$CS sweep $K --out "$TMP/k" & pid=$!
wait_points "$TMP/k" 3; kill -9 $pid; wait $pid 2>/dev/null
sleep 0.1
done_pts=$(ls "$TMP"/k/points/*.dat 2>/dev/null | wc -l)
[ "$done_pts" -lt 24 ] && ok || bad "kill: the sweep finished ($done_pts points) before it was killed; the test proves nothing"
[ ! -e "$TMP/k/summary.dat" ] && ok || bad "kill: summary.dat exists after kill -9"
$CS sweep $K --out "$TMP/k" || bad "resumed sweep failed"
cmp -s "$TMP/ref/summary.dat" "$TMP/k/summary.dat" && ok || bad "kill-and-resume summary differs from uninterrupted"
cmp -s "$TMP/ref/summary_seeds.dat" "$TMP/k/summary_seeds.dat" && ok || bad "kill-and-resume summary_seeds differs"

# SIGTERM: the sweep stops its points, says how to continue, exits 1; the restart completes it
$CS sweep $K --out "$TMP/t" 2>"$TMP/terr" & pid=$!
wait_points "$TMP/t" 3; kill -TERM $pid; wait $pid; rc=$?
[ "$rc" -eq 1 ] && ok || bad "SIGTERM: exit $rc, want 1"
expect_grep term-msg 'interrupted by signal 15 after [0-9]+ of 24 points; run the same command again' "$TMP/terr"
$CS sweep $K --out "$TMP/t" || bad "sweep resumed after SIGTERM failed"
cmp -s "$TMP/ref/summary.dat" "$TMP/t/summary.dat" && ok || bad "SIGTERM-and-resume summary differs"

# 4. shards 1/3, 2/3, 3/3 merged = unsharded (with seeds)
S="--model $M --vary depth=2,3 --seeds 2 --quiet"
$CS sweep $S --out "$TMP/all" || bad "unsharded sweep failed"
for i in 1 2 3; do $CS sweep $S --shard $i/3 --out "$TMP/sh$i" || bad "shard $i failed"; done
expect_exit 0 merge $CS sweep --merge "$TMP/sh1,$TMP/sh2,$TMP/sh3" --quiet --out "$TMP/merged"
cmp -s "$TMP/all/summary.dat" "$TMP/merged/summary.dat" && ok || bad "merged summary differs from unsharded"
cmp -s "$TMP/all/summary_seeds.dat" "$TMP/merged/summary_seeds.dat" && ok || bad "merged summary_seeds differs"
expect_grep seeds-n '^2 gate:b@0-50 50 2 ' "$TMP/all/summary_seeds.dat"
expect_exit 2 merge-missing $CS sweep --merge "$TMP/sh1,$TMP/sh2" --quiet --out "$TMP/merged2"
expect_grep merge-missing-named "shard 3/3 is missing" "$TMP/err"

# 5. one diverging point (lr 100) is reported; the others finish
expect_exit 1 diverge $CS sweep --model "$M" --vary depth=2 --vary deficit=gate:b@0-0 --vary lr=0.01,100,0.02 --out "$TMP/d"
expect_grep diverge-msg 'point 1 .*lr=100.* failed with status 1: critsim flow: .*non-finite' "$TMP/err"
expect_grep diverge-row '^2 gate:b@0-0 100 nan .* 1$' "$TMP/d/summary.dat"
ok_rows=$(grep -v '^#' "$TMP/d/summary.dat" | awk '$NF == 0' | wc -l)
[ "$ok_rows" -eq 2 ] && ok || bad "diverge: $ok_rows finished rows, want 2"
expect_grep diverge-comment '^# failed: point 1 ' "$TMP/d/summary.dat"

# 6. every sweep model file in models/ expands to a valid grid for its engine (--plan runs nothing)
for m in "$(dirname "$0")"/../models/*.ini; do
  grep -q '^\[sweep\]' "$m" || continue
  engine=$(sed -n 's/^command *= *//p' "$m" | head -n 1)
  if $CS "$engine" --help >/dev/null 2>&1; then
    expect_exit 0 "plan $(basename "$m")" $CS sweep --model "$m" --plan --out "$TMP/plan"
  else
    echo "  (test_cli_sweep: $(basename "$m") not checked: critsim $engine is not built)"
  fi
done
$CS sweep --model "$M" --plan --shard 2/4 --out "$TMP/plan2" >"$TMP/pout"
expect_grep plan-count '^2 points \(2 of the grid.s 9 in this shard; 0 finished\)' "$TMP/pout"

# 8. deficit trunks (critsim cnn on a tiny Fashion-MNIST subset): points that differ only in where the
# deficit ends branch from one trunk per seed and equal the points run from scratch (--no-trunks): the
# summaries byte for byte, every point's tables but for wall times, seconds and the branch line
FM=/usr/share/datasets/fashion-mnist
if $CS cnn --help >/dev/null 2>&1 && [ -f "$FM/train-images-idx3-ubyte.gz" ]; then
  C=$TMP/cnn.ini
  cat >"$C" <<'EOF2'
command = cnn
train-subset = 256
test-subset = 128
batch = 64
width = 4
depth = 1
quiet = true
clean-epochs = 2
schedule = restart
[sweep]
vary = deficit=blur:4@0-{end=1:1:3}
seeds = 2
EOF2
  expect_exit 0 trunk-sweep $CS sweep --model "$C" --full --jobs 2 --out "$TMP/ct"
  expect_grep trunk-count '6 of them branch from 2 deficit trunks' "$TMP/err"
  [ ! -e "$TMP/ct/trunks" ] && ok || bad "trunk-sweep: trunks/ left after every point finished"
  expect_exit 0 scratch-sweep $CS sweep --model "$C" --full --jobs 2 --no-trunks --out "$TMP/cs"
  cmp -s "$TMP/ct/summary.dat" "$TMP/cs/summary.dat" && ok || bad "trunk sweep summary differs from --no-trunks"
  cmp -s "$TMP/ct/summary_seeds.dat" "$TMP/cs/summary_seeds.dat" && ok || bad "trunk sweep summary_seeds differs"
  # every column but `seconds` (found by name in the column line)
  norm() { sed "s|$2|OUT|g" "$1" | grep -v 'wall time\|^# branch:' | awk '/^# epoch / {for (i = 2; i <= NF; i++) if ($i == "seconds") sc = i - 1} /^#/ {print; next} {$sc = ""; print}'; }
  nb=0
  for d in "$TMP"/ct/points/*/; do
    id=$(basename "$d")
    grep -q '^# branch: continued exactly from checkpoint' "$d/epochs.dat" && nb=$((nb + 1))
    [ "$(norm "$d/epochs.dat" "$TMP/ct")" = "$(norm "$TMP/cs/points/$id/epochs.dat" "$TMP/cs")" ] && ok || bad "trunk point $id: epochs.dat differs from scratch"
    [ "$(sed "s|$TMP/ct|OUT|" "$d/final.dat")" = "$(sed "s|$TMP/cs|OUT|" "$TMP/cs/points/$id/final.dat")" ] && ok || bad "trunk point $id: final.dat differs"
  done
  [ "$nb" -eq 6 ] && ok || bad "trunk-sweep: $nb of 6 points branched"
  # kill -9 while the trunks run, restart: the same summary
  CK="--model $C --jobs 2 --quiet"
  $CS sweep $CK --out "$TMP/ck" & pid=$!
  k=0; while ! ls "$TMP"/ck/trunks/*/ckpt_1.bin >/dev/null 2>&1 && [ $k -lt 400 ]; do sleep 0.025; k=$((k + 1)); done
  kill -9 $pid; wait $pid 2>/dev/null
  [ ! -e "$TMP/ck/summary.dat" ] && ok || bad "trunk kill: summary.dat exists after kill -9"
  [ -d "$TMP/ck/trunks" ] && ok || bad "trunk kill: no trunks/ folder to resume from"
  $CS sweep $CK --out "$TMP/ck" || bad "trunk sweep resumed after kill -9 failed"
  cmp -s "$TMP/ct/summary.dat" "$TMP/ck/summary.dat" && ok || bad "trunk kill-and-resume summary differs"
  # shards recompute the trunks they need; merged = unsharded
  for i in 1 2; do $CS sweep $CK --shard $i/2 --out "$TMP/csh$i" || bad "trunk shard $i failed"; done
  expect_exit 0 trunk-merge $CS sweep --merge "$TMP/csh1,$TMP/csh2" --quiet --out "$TMP/cm"
  cmp -s "$TMP/ct/summary.dat" "$TMP/cm/summary.dat" && ok || bad "trunk shards merged differ from the unsharded sweep"
  $CS sweep --model "$C" --plan --out "$TMP/cplan" >"$TMP/pout"
  expect_grep trunk-plan '6 of them branch from 2 deficit trunks' "$TMP/pout"
else
  echo "  (test_cli_sweep: deficit trunks not checked: critsim cnn or $FM missing)"
fi

# 7. usage errors: exit 2 with one line
expect_exit 2 unknown-key $CS sweep --model "$M" --vary nosuch=1,2 --out "$TMP/u"
expect_exit 2 empty-range $CS sweep --model "$M" --vary depth=5:1:1 --out "$TMP/u"
expect_exit 2 zero-step $CS sweep --model "$M" --vary depth=1:0:4 --out "$TMP/u"
expect_exit 2 bad-shard $CS sweep --model "$M" --shard 4/3 --out "$TMP/u"
expect_exit 2 no-engine $CS sweep --vary depth=1,2 --out "$TMP/u"
expect_exit 2 bad-engine $CS sweep --command nosuch --vary depth=1,2 --out "$TMP/u"
expect_exit 2 vary-out $CS sweep --model "$M" --vary out=a,b --out "$TMP/u"
expect_exit 2 no-out $CS sweep --model "$M"
expect_exit 2 merge-nonsweep $CS sweep --merge "$TMP" --out "$TMP/u2"
done_checks test_cli_sweep
