#!/bin/sh
# test_cli_shards.sh - sweeps beyond one machine: tools/slurm_sweep.sh through a stand-in sbatch that
# runs the array tasks and the merge job here, the same sharding through GNU parallel, both equal to
# the single-machine summary byte for byte; sweep --merge refuses a missing, duplicated or foreign
# shard (another model file, another build) with exit 2 naming it.
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1
ROOT=$(cd "$(dirname "$0")/.." && pwd)

if ! $CS flow --help >/dev/null 2>&1; then
  echo "SKIP test_cli_shards: critsim flow is not built"; done_checks test_cli_shards; exit $?
fi
CSA=$(cd "$(dirname "$CS")" && pwd)/$(basename "$CS")

M=$TMP/m.ini
cat >"$M" <<'EOF'
# small two-pathway hierarchical task; 12 points of a few milliseconds
command = flow
task = hier
width = 12
steps = 100
every = 100
snap-every = 0
[sweep]
vary = depth=1:1:3
vary = deficit=gate:b@0-{end=0:50:50}
seeds = 2
EOF
$CS sweep --model "$M" --quiet --out "$TMP/one" || bad "single-machine sweep failed"

# 1. Slurm: a stand-in sbatch runs the array tasks (SLURM_ARRAY_TASK_ID = 1..N) and then the merge job
SB=$TMP/sbatch
cat >"$SB" <<'EOF'
#!/bin/sh
# stand-in sbatch: runs the job now; logs its options to $SBATCH_LOG; prints a job id (--parsable)
array=""; dep=""; output=""
for a in "$@"; do
  case "$a" in
    --array=*) array=${a#--array=} ;;
    --dependency=*) dep=${a#--dependency=} ;;
    --output=*) output=${a#--output=} ;;
  esac
  script=$a
done
id=$(( $(wc -l <"$SBATCH_LOG") + 100 ))
echo "$id array=$array dep=$dep script=$(basename "$script")" >>"$SBATCH_LOG"
if [ -n "$dep" ]; then
  grep -q "^${dep#afterany:} " "$SBATCH_LOG" || { echo "sbatch: unknown dependency $dep" >&2; exit 1; }
fi
if [ -n "$array" ]; then
  i=${array%-*}
  while [ "$i" -le "${array#*-}" ]; do
    SLURM_ARRAY_TASK_ID=$i sh "$script" >"$(echo "$output" | sed "s/%a/$i/")" 2>&1
    i=$((i + 1))
  done
else
  sh "$script" >"$output" 2>&1
fi
echo "$id"
EOF
chmod +x "$SB"
: >"$TMP/sbatch.log"
SBATCH_LOG=$TMP/sbatch.log SBATCH=$SB CRITSIM=$CSA sh "$ROOT/tools/slurm_sweep.sh" "$M" 4 "$TMP/slurm" >"$TMP/out" 2>"$TMP/err" \
  && ok || bad "slurm_sweep.sh failed: $(cat "$TMP/err")"
expect_grep slurm-jobs 'array job 100 \(4 shards of m.ini\), merge job 101' "$TMP/out"
expect_grep slurm-array '^100 array=1-4 dep= script=shard.sh$' "$TMP/sbatch.log"
expect_grep slurm-merge-after '^101 array= dep=afterany:100 script=merge.sh$' "$TMP/sbatch.log"
[ "$(ls -d "$TMP"/slurm/shard* | wc -l)" -eq 4 ] && ok || bad "slurm: not 4 shard folders"
for f in summary.dat summary_seeds.dat grid.dat; do
  cmp -s "$TMP/one/$f" "$TMP/slurm/all/$f" && ok || bad "slurm: merged $f differs from the single-machine sweep"
done
# bad arguments and a grid that does not plan: exit 2 before anything is submitted
: >"$TMP/sbatch.log"
SBATCH_LOG=$TMP/sbatch.log SBATCH=$SB CRITSIM=$CSA sh "$ROOT/tools/slurm_sweep.sh" "$M" 0 "$TMP/s0" 2>"$TMP/err"
[ $? -eq 2 ] && grep -q 'N must be a positive number' "$TMP/err" && ok || bad "slurm_sweep.sh N=0: not exit 2 with a message"
SBATCH_LOG=$TMP/sbatch.log SBATCH=$SB CRITSIM=$CSA sh "$ROOT/tools/slurm_sweep.sh" "$M" 2 "$TMP/s1" --vary depth=1,abc 2>"$TMP/err"
[ $? -eq 2 ] && grep -q "'abc' is not an integer" "$TMP/err" && ok || bad "slurm_sweep.sh with a bad axis: not exit 2 ($(cat "$TMP/err"))"
[ ! -s "$TMP/sbatch.log" ] && ok || bad "slurm_sweep.sh submitted jobs for a grid that does not plan"

# 2. GNU parallel: 4 shards at 2 at a time, merged = single machine, byte for byte
if command -v parallel >/dev/null 2>&1; then
  parallel --will-cite -j 2 "$CS" sweep --model "$M" --shard {}/4 --quiet --out "$TMP/par{}" ::: 1 2 3 4 \
    && ok || bad "GNU parallel: a shard failed"
  expect_exit 0 parallel-merge $CS sweep --merge "$TMP/par1,$TMP/par2,$TMP/par3,$TMP/par4" --quiet --out "$TMP/par"
  for f in summary.dat summary_seeds.dat grid.dat; do
    cmp -s "$TMP/one/$f" "$TMP/par/$f" && ok || bad "parallel: merged $f differs from the single-machine sweep"
  done
else
  echo "  (test_cli_shards: GNU parallel is not installed (make deps installs it); its check did not run)"
fi

# 3. --merge refuses what is not the N parts of one sweep, naming the shard
S=$TMP/slurm
expect_exit 2 merge-missing $CS sweep --merge "$S/shard1,$S/shard2,$S/shard4" --out "$TMP/u"
expect_grep merge-missing-named 'shard 3/4 is missing' "$TMP/err"
expect_exit 2 merge-duplicate $CS sweep --merge "$S/shard1,$S/shard2,$S/shard2,$S/shard3,$S/shard4" --out "$TMP/u"
expect_grep merge-duplicate-named "'$S/shard2' and '$S/shard2' are both shard 2/4" "$TMP/err"
sed 's/^command = flow$/command = flow\nlr = 0.02/' "$M" >"$TMP/m2.ini" # another model file, same grid
$CS sweep --model "$TMP/m2.ini" --shard 3/4 --quiet --out "$TMP/other3" || bad "other model's shard failed"
expect_exit 2 merge-foreign-model $CS sweep --merge "$S/shard1,$S/shard2,$TMP/other3,$S/shard4" --out "$TMP/u"
expect_grep merge-foreign-model-named "shard '$TMP/other3' is a sweep of another grid or model file" "$TMP/err"
# another build: the version line carries a build id (a hash of the source tree)
head -n 1 "$S/shard1/grid.dat" | grep -q -E '^# critsim [0-9]+\.[0-9]+\.[0-9]+\+[0-9a-f]{12}: grid.dat$' \
  && ok || bad "grid.dat's version line has no build id: $(head -n 1 "$S/shard1/grid.dat")"
cp -r "$S/shard3" "$TMP/build3"
sed -i '1s/+[0-9a-f]*:/+000000000000:/' "$TMP/build3/grid.dat"
expect_exit 2 merge-foreign-build $CS sweep --merge "$S/shard1,$S/shard2,$TMP/build3,$S/shard4" --out "$TMP/u"
expect_grep merge-foreign-build-named "shard '$TMP/build3' was run by critsim [^ ]*\+000000000000.*another build" "$TMP/err"
# a shard folder resumed by another build: its points keep the old build's version line
cp -r "$S/shard3" "$TMP/mixed3"
p=$(ls "$TMP"/mixed3/points/*.dat | head -n 1)
sed -i '1s/+[0-9a-f]*:/+000000000000:/' "$p"
expect_exit 2 merge-mixed-build $CS sweep --merge "$S/shard1,$S/shard2,$TMP/mixed3,$S/shard4" --out "$TMP/u2"
expect_grep merge-mixed-build-named "shard '$TMP/mixed3': '$p' was written by critsim [^ ]*\+000000000000" "$TMP/err"
done_checks test_cli_shards
