#!/bin/sh
# slurm_sweep.sh - submit a critsim sweep to Slurm: an array job of N shards and a merge job that runs
# after all of them.
#
#   tools/slurm_sweep.sh MODEL N [OUT [SWEEP OPTION...]]
#
# MODEL is a sweep model file (command = ENGINE, [sweep] axes), N the number of shards (array tasks),
# OUT the result folder (default results/NAME for models/NAME.ini).  Array task I runs
#     critsim sweep --model MODEL --shard I/N --quiet --out OUT/shardI [SWEEP OPTION...]
# (points of the grid with index mod N = I - 1; one core per task unless SWEEP OPTIONs say --jobs J),
# and the merge job, submitted with --dependency=afterany on the array, runs
#     critsim sweep --merge OUT/shard1,...,OUT/shardN --out OUT/all
# so OUT/all/summary.dat is the summary a single machine would have written, byte for byte (the
# shards must come from one build of critsim: the merge refuses shards of another build, another grid,
# a missing or a duplicated shard, exit 2 naming it).  A failed or timed-out task is resubmitted by
# hand with `sbatch --array=I OUT/slurm/shard.sh`: a sweep resumes its finished points.
#
# The grid is checked (critsim sweep --plan) before anything is submitted.  The job scripts are
# written to OUT/slurm/ (shard.sh, merge.sh), the logs to OUT/slurm/logs/.  Environment:
#   CRITSIM      the critsim binary the jobs run (default: critsim on PATH; made absolute)
#   SBATCH       the sbatch command (default sbatch; the test suite passes a stand-in)
#   SBATCH_OPTS  extra sbatch options for both jobs, e.g. "--partition=short --time=01:00:00"
# Prints the two job ids.  Exit status 2 on bad arguments or a grid that does not plan.
set -eu

die() { echo "slurm_sweep.sh: $*" >&2; exit 2; }
[ $# -ge 2 ] || die "usage: tools/slurm_sweep.sh MODEL N [OUT [SWEEP OPTION...]]"
model=$1; n=$2; shift 2
case "$n" in '' | *[!0-9]* | 0*) die "N must be a positive number of shards, not '$n'" ;; esac
[ -f "$model" ] || die "no model file '$model'"
out=results/$(basename "$model" .ini)
if [ $# -ge 1 ]; then out=$1; shift; fi
case "$out" in *[!A-Za-z0-9._/+,@=-]*) die "OUT '$out' holds characters a job script would have to quote; use letters, digits and ._/+,@=-" ;; esac

cs=${CRITSIM:-critsim}
case "$cs" in */*) cs=$(cd "$(dirname "$cs")" && pwd)/$(basename "$cs") ;; *) cs=$(command -v "$cs") || die "no critsim on PATH (set CRITSIM)" ;; esac
sb=${SBATCH:-sbatch}
mkdir -p "$out/slurm/logs"
out=$(cd "$out" && pwd)
model=$(cd "$(dirname "$model")" && pwd)/$(basename "$model")

# quote ARG for sh: 'ARG' with every ' written '\''
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
extra=""
for a in "$@"; do extra="$extra $(q "$a")"; done

# the grid must plan before a single job is queued
"$cs" sweep --model "$model" --plan --shard "1/$n" --out "$out/slurm/plan" "$@" >/dev/null

{
  echo '#!/bin/sh'
  echo "# written by tools/slurm_sweep.sh: shard \$SLURM_ARRAY_TASK_ID of $n"
  echo "exec $(q "$cs") sweep --model $(q "$model") --shard \"\$SLURM_ARRAY_TASK_ID/$n\" --quiet --out \"$out/shard\$SLURM_ARRAY_TASK_ID\"$extra"
} >"$out/slurm/shard.sh"
dirs=""
i=1
while [ "$i" -le "$n" ]; do dirs="$dirs${dirs:+,}$out/shard$i"; i=$((i + 1)); done
{
  echo '#!/bin/sh'
  echo "# written by tools/slurm_sweep.sh: merge the $n shards into $out/all"
  echo "exec $(q "$cs") sweep --merge $(q "$dirs") --out $(q "$out/all")"
} >"$out/slurm/merge.sh"
chmod +x "$out/slurm/shard.sh" "$out/slurm/merge.sh"

# shellcheck disable=SC2086 # SBATCH_OPTS is a list of options
array=$($sb --parsable ${SBATCH_OPTS:-} --job-name=critsim-sweep --array="1-$n" --ntasks=1 \
  --output="$out/slurm/logs/shard_%a.log" "$out/slurm/shard.sh") || die "sbatch of the array job failed"
array=${array%%;*}
# shellcheck disable=SC2086
merge=$($sb --parsable ${SBATCH_OPTS:-} --job-name=critsim-merge --dependency="afterany:$array" --ntasks=1 \
  --output="$out/slurm/logs/merge.log" "$out/slurm/merge.sh") || die "sbatch of the merge job failed"
merge=${merge%%;*}
echo "slurm_sweep.sh: array job $array ($n shards of $(basename "$model")), merge job $merge; summary: $out/all/summary.dat"
