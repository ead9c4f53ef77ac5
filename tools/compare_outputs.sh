#!/bin/sh
# tools/compare_outputs.sh - do two builds of critsim write the same outputs?
#
#   tools/compare_outputs.sh [--keep] [--long] A B [WORKDIR]
#
# A and B are each a critsim binary, a folder holding ./critsim (a checkout or worktree), or a git
# revision of this repository (built with `make critsim` in a temporary worktree).  The script runs the
# same quick set of commands with each build, in WORKDIR/A and WORKDIR/B (default: a temporary folder,
# removed unless --keep or a difference was found), and compares every file they wrote:
#   - text tables after masking what legitimately differs between builds and runs: the version in the
#     first header line ("# critsim X.Y.Z: NAME"), wall-time figures on '#' lines ("wall time = 0.027 s",
#     "wall = ...", "wall time of this run's epochs: ... s") and the values of any column named
#     `seconds`;
#   - stdout of each command with the same masks; the exit status of each command;
#   - binary files (.npy) byte for byte; CNN checkpoints (.bin) are skipped (they hold timings).
# It prints one line per differing file (and the first lines of the diff) and exits 1 on any
# difference, 0 when everything matches, 2 on bad usage or a build that cannot be made.  A refactoring
# commit that changes no output must leave it silent:  tools/compare_outputs.sh HEAD~1 HEAD
#
# The quick set: every model file's runs except the long CNN sweeps (cnn_blur, cnn_split_blur), the
# full matrix-completion sweep (mc_switch, replaced by a shortened switch sweep with the same options)
# and cp_latent_long (2 minutes; --long adds it), plus the two analyzer runs of plots/analyze.mk with
# `critsim analyze`, and two tiny CNN runs (1000 images; one thread, so the float32 sums are in a fixed
# order).  The model files are the ones of the tree this script lives in, for both builds.  About a
# minute per build on 2 quiet cores.  The full figure and paper set: `make figures paper` with each build.
set -u
keep=0; long=0
while :; do
  case "${1:-}" in --keep) keep=1; shift ;; --long) long=1; shift ;; *) break ;; esac
done
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: tools/compare_outputs.sh [--keep] [--long] A B [WORKDIR]  (A, B: binary, checkout folder or git revision)" >&2
  exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODELS="$ROOT/models"
if [ $# -eq 3 ]; then WORK=$3; mkdir -p "$WORK" || exit 2; else WORK=$(mktemp -d /tmp/critsim-compare.XXXXXX); fi
WORK=$(cd "$WORK" && pwd)
TREES=""
cleanup() {
  for t in $TREES; do git -C "$ROOT" worktree remove --force "$t" >/dev/null 2>&1; done
  [ -z "$TREES" ] || git -C "$ROOT" worktree prune >/dev/null 2>&1
  TREES=""
}
trap cleanup EXIT

# resolve SPEC LABEL: print the absolute path of a critsim binary for SPEC
resolve() {
  if [ -f "$1" ] && [ -x "$1" ]; then (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); return 0; fi
  if [ -d "$1" ] && [ -x "$1/critsim" ]; then (cd "$1" && echo "$(pwd)/critsim"); return 0; fi
  if git -C "$ROOT" rev-parse --verify -q "$1^{commit}" >/dev/null 2>&1; then
    rev=$(git -C "$ROOT" rev-parse "$1^{commit}")
    if [ -x "$WORK/build-A/critsim" ] && [ "$rev" = "$(git -C "$WORK/build-A" rev-parse HEAD 2>/dev/null)" ]; then
      echo "$WORK/build-A/critsim"; return 0 # the same revision as A: one build
    fi
    t="$WORK/build-$2"
    rm -rf "$t"
    git -C "$ROOT" worktree add --detach -q "$t" "$1" >&2 || return 1
    TREES="$TREES $t"
    echo "compare_outputs: building $1 in $t" >&2
    make -C "$t" -j2 critsim >"$WORK/build-$2.log" 2>&1 || { echo "compare_outputs: build of $1 failed (see $WORK/build-$2.log)" >&2; return 1; }
    echo "$t/critsim"; return 0
  fi
  echo "compare_outputs: '$1' is neither a critsim binary, a folder with ./critsim, nor a git revision" >&2
  return 1
}

# the quick set, one command per line: NAME ARGS... (run inside the output folder; paths relative)
commands() {
  M=$MODELS
  cat <<EOF
headline modes --headline --out runs/headline
modes_exact modes --depth 2 --method exact --steps 500 --every 50 --deficit gate:b@0-20 --out runs/modes_exact
modes_rk8pd modes --depth 4 --method rk8pd --steps 300 --every 30 --deficit lesion:a:1@0-300 --out runs/modes_rk8pd
phase_large_d5_early phase --model $M/phase_large.ini --depth 5 --deficit gate:b@0-14 --out runs/phase1/d5_early
phase_large_d2_late phase --model $M/phase_large.ini --depth 2 --deficit gate:b@99-114 --out runs/phase1/d2_late
phase_small_d3_early phase --model $M/phase_small.ini --depth 3 --deficit gate:b@0-4 --out runs/phase7/d3_early
flow_fig2_early flow --model $M/flow_fig2.ini --deficit gate:b@0-150 --out runs/flow_fig2/early
flow_fig2_middle flow --model $M/flow_fig2.ini --deficit gate:b@400-550 --out runs/flow_fig2/middle
flow_fig3 flow --model $M/flow_fig3.ini --out runs/flow_fig3
flow_fused_remove flow --model $M/flow_fused_remove.ini --out runs/flow_fused_remove
flow_rk8pd flow --task lowrank --sv 3,2,1 --arch fused --depth 2 --method rk8pd --lr 0.01 --steps 500 --every 50 --out runs/flow_rk8pd
mc_short flow --model $M/mc_switch.ini --depth 2 --switch-sweep 1,501,2001 --continue 1500 --every 250 --jobs 2 --out runs/mc_short
analyze_paths_run flow --shared-input --init aligned --init-eps 0.01 --loss sum --steps 1000 --every 5 --deficit gate:b@0-150 --out runs/analyze/paths_early
analyze_paths analyze --run runs/analyze/paths_early
analyze_fused_run flow --arch fused --task latent --depth 3 --init-scale 0.01 --steps 3000 --every 30 --deficit remove:b@0-1000 --out runs/analyze/fused_remove
analyze_fused analyze --run runs/analyze/fused_remove
cp_gate sweep --model $M/cp_gate.ini --jobs 2 --quiet --out runs/sweep/cp_gate
cp_lesion sweep --model $M/cp_lesion.ini --jobs 2 --quiet --out runs/sweep/cp_lesion
cp_end sweep --model $M/cp_end.ini --jobs 2 --quiet --out runs/sweep/cp_end
cp_onset sweep --model $M/cp_onset.ini --jobs 2 --quiet --out runs/sweep/cp_onset
cp_latent sweep --model $M/cp_latent.ini --jobs 2 --quiet --out runs/sweep/cp_latent
cnn_fused cnn --train-subset 1000 --test-subset 500 --epochs 1 --threads 1 --quiet --out runs/cnn/fused
cnn_split cnn --arch split --train-subset 1000 --test-subset 500 --epochs 2 --deficit blur:b:7@0-1 --threads 1 --quiet --out runs/cnn/split
EOF
  [ "$long" -eq 0 ] || echo "cp_latent_long sweep --model $M/cp_latent_long.ini --jobs 2 --quiet --out runs/sweep/cp_latent_long"
}

# run_set BIN DIR: every command of the quick set with BIN inside DIR; DIR/status.txt = NAME STATUS
run_set() {
  mkdir -p "$2/logs" && : > "$2/status.txt"
  commands | while read -r name args; do
    # shellcheck disable=SC2086 # ARGS are words by design (no spaces inside values)
    (cd "$2" && OPENBLAS_NUM_THREADS=1 "$1" $args >"logs/$name.out" 2>"logs/$name.err")
    echo "$name $?" >> "$2/status.txt"
  done
}

# mask FILE: the comparable form of a text file on stdout (timings on '#' lines: "0.116 s" -> "T s")
mask() {
  sed -E '/^#/ s/[0-9][0-9.e+-]* s([^A-Za-z0-9]|$)/T s\1/g' "$1" | awk '
    FNR == 1 && /^# critsim [^ ]*: / { sub(/^# critsim [^ ]*: /, "# critsim VERSION: ") }
    /^#/ { last = $0; cols = 0; print; next }
    {
      if (!cols) { cols = 1; nsec = 0; if (last != "") { n = split(substr(last, 3), c, " "); for (i = 1; i <= n; i++) if (c[i] == "seconds") sec[++nsec] = i } }
      for (i = 1; i <= nsec; i++) if (sec[i] <= NF) $(sec[i]) = "T"
      print
    }'
}

BIN_A=$(resolve "$1" A); rc_a=$?
BIN_B=""; [ $rc_a -eq 0 ] && BIN_B=$(resolve "$2" B)
rc_b=$?
# worktrees made inside the command substitutions above: remember them here, for cleanup
for s in A B; do [ -e "$WORK/build-$s/.git" ] && TREES="$TREES $WORK/build-$s"; done
if [ $rc_a -ne 0 ] || [ $rc_b -ne 0 ]; then exit 2; fi
echo "compare_outputs: A = $1 ($BIN_A)"
echo "compare_outputs: B = $2 ($BIN_B)"
for s in A B; do
  rm -rf "${WORK:?}/$s"
  t0=$(date +%s)
  if [ $s = A ]; then run_set "$BIN_A" "$WORK/A"; else run_set "$BIN_B" "$WORK/B"; fi
  echo "compare_outputs: ran $(wc -l < "$WORK/$s/status.txt") commands with $s in $(( $(date +%s) - t0 )) s"
done

ndiff=0; nfile=0
report() { ndiff=$((ndiff + 1)); echo "DIFF $1"; }
awk '$2 != 0 { print "compare_outputs: note: command " $1 " exited with status " $2 " (with A)" }' "$WORK/A/status.txt"
if ! cmp -s "$WORK/A/status.txt" "$WORK/B/status.txt"; then
  report "exit statuses:"; diff "$WORK/A/status.txt" "$WORK/B/status.txt" | head -n 10
fi
# every file either build wrote
(cd "$WORK/A" && find . -type f ! -name status.txt ! -name '*.err' | sort) > "$WORK/files.A"
(cd "$WORK/B" && find . -type f ! -name status.txt ! -name '*.err' | sort) > "$WORK/files.B"
comm -3 "$WORK/files.A" "$WORK/files.B" | while read -r f; do echo "DIFF only one build wrote $f"; done
ndiff=$((ndiff + $(comm -3 "$WORK/files.A" "$WORK/files.B" | wc -l)))
for f in $(comm -12 "$WORK/files.A" "$WORK/files.B"); do
  case "$f" in *.bin) continue ;; esac
  nfile=$((nfile + 1))
  a="$WORK/A/$f"; b="$WORK/B/$f"
  if cmp -s "$a" "$b"; then continue; fi
  case "$f" in
    *.npy) report "$f (binary)" ;;
    *)
      mask "$a" > "$WORK/ma"; mask "$b" > "$WORK/mb"
      if ! cmp -s "$WORK/ma" "$WORK/mb"; then report "$f"; diff "$WORK/ma" "$WORK/mb" | head -n 6; fi ;;
  esac
done
if [ "$ndiff" -eq 0 ]; then
  echo "compare_outputs: $nfile files compared, no difference"
  cleanup
  [ "$keep" -eq 1 ] || [ $# -eq 3 ] || rm -rf "$WORK"
  exit 0
fi
echo "compare_outputs: $ndiff difference(s) in $nfile files; outputs kept in $WORK"
exit 1
