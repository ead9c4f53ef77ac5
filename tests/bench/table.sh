#!/bin/sh
# table.sh - the performance table of `make bench`: each row of the table (the multipath run, matrix
# completion, the CNN training step) measured for critsim and for its lean PyTorch reference back to
# back, in two OpenBLAS configurations side by side:
#   set:   the environment as it is (this machine sets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE);
#   unset: both variables removed for the benchmark commands alone (OpenBLAS picks its own kernel).
# Every round prints its figures and ratios as it goes (a shared machine is noisy: compare within a
# round); the summary gives the range of each ratio over the rounds.  Single-threaded rows are compared
# in CPU seconds of the processes (the steadier figure when other processes share the cores; on a quiet
# machine it equals the wall time) and also printed in wall time; 2-thread rows in wall time.  Fractions of peak are against
# OpenBLAS dgemm / sgemm at n = 1024 on one thread, measured in the same configuration and round.
# Finally the multipath GD step against hidden width (100 .. 2000) with its memory-bound floor.
#
# Environment: CRITSIM (default ./critsim), BENCH (default build/bench), BENCH_ROUNDS (default 2),
# BENCH_SECS (seconds per CNN measurement, default 1.5), BENCH_WIDTHS (default "100 200 500 1000 2000"),
# PYTHON (default /usr/bin/python3).  The PyTorch rows are skipped when torch does not import.
# Prints figures, asserts nothing; exits non-zero only when a critsim measurement fails.
set -u
CRITSIM=${CRITSIM:-./critsim}
BENCH=${BENCH:-build/bench}
ROUNDS=${BENCH_ROUNDS:-2}
SECS=${BENCH_SECS:-1.5}
WIDTHS=${BENCH_WIDTHS:-100 200 500 1000 2000}
PY=${PYTHON:-/usr/bin/python3}
DIR=$(mktemp -d /tmp/critsim-bench-table.XXXXXX) || exit 1
trap 'rm -rf "$DIR"' EXIT INT TERM
export OPENBLAS_NUM_THREADS=1
HAVE_TORCH=0
"$PY" -c 'import torch' 2>/dev/null && HAVE_TORCH=1
RES=$DIR/results # lines: round config key value

# run CONFIG CMD...: the command under that OpenBLAS configuration
run() {
    cfg=$1
    shift
    if [ "$cfg" = unset ]; then env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@"; else "$@"; fi
}
# get FILE KEY: the value of "KEY value" in FILE (empty when absent)
get() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }
# rec ROUND CONFIG KEY VALUE
rec() { [ -n "$4" ] && echo "$1 $2 $3 $4" >>"$RES"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
fail() {
    echo "table.sh: $1 failed; its output:" >&2
    cat "$2" >&2
    exit 1
}

echo "critsim performance table: $ROUNDS round(s), $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "as set here: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-(unset)}; PyTorch reference: $([ $HAVE_TORCH = 1 ] && "$PY" -c 'import torch; print(torch.__version__)' || echo 'not installed (apt-get install python3-torch)')"
for r in $(seq 1 "$ROUNDS"); do
    for cfg in set unset; do
        o=$DIR/o
        run $cfg "$BENCH/bench_table" blas >"$o" || fail "bench_table blas" "$o"
        core=$(get "$o" corename)
        dp=$(get "$o" dgemm1024)
        sp=$(get "$o" sgemm1024)
        rec "$r" $cfg dgemm "$dp"
        rec "$r" $cfg sgemm "$sp"
        echo "$core" >"$DIR/core.$cfg"
        echo "== round $r, OpenBLAS $cfg (kernel $core): dgemm $dp GFLOP/s, sgemm $sp GFLOP/s at n = 1024, 1 thread"

        # 1. multipath run (3 x 1000 steps, every step recorded), critsim double vs PyTorch float32
        run $cfg "$BENCH/bench_table" mp "$CRITSIM" 3 >"$o" || fail "bench_table mp" "$o"
        cw=$(get "$o" mp_wall_every1)
        cc=$(get "$o" mp_cpu_every1)
        c1000=$(get "$o" mp_cpu_every1000)
        st=$(get "$o" mp_step_us)
        gf=$(get "$o" mp_step_gflops)
        rec "$r" $cfg mp_critsim "$cc"
        rec "$r" $cfg mp_step_us "$st"
        rec "$r" $cfg mp_rec_us "$(awk -v a="$cc" -v b="$c1000" 'BEGIN { printf "%.1f", 1e6 * (a - b) / 3000 }')"
        rec "$r" $cfg mp_peak "$(awk -v a="$gf" -v b="$dp" 'BEGIN { printf "%.3f", a / b }')"
        line="multipath 3 x 1000 steps, every step recorded: critsim $cc s CPU, $cw s wall (--every 1000: $c1000 s CPU; start-up $(get "$o" startup_cpu) s CPU each; GD step $st us in-process = $gf GFLOP/s, $(awk -v a="$gf" -v b="$dp" 'BEGIN { printf "%.0f", 100 * a / b }')% of dgemm peak)"
        if [ $HAVE_TORCH = 1 ]; then
            run $cfg "$PY" tests/bench/bench_multipath_torch.py --threads 1 --reps 2 --dtype f32 >"$o" 2>&1
            tw=$(get "$o" mp_torch_float32)
            tc=$(get "$o" mp_torch_cpu_float32)
            rec "$r" $cfg mp_torch "$tc"
            rec "$r" $cfg mp_ratio "$(ratio "$tc" "$cc")"
            line="$line; PyTorch float32 $tc s CPU, $tw s wall in-loop -> ratio $(ratio "$tc" "$cc") CPU, $(ratio "$tw" "$cw") wall"
        fi
        echo "  $line"

        # 2. matrix completion, 1 thread, critsim double vs PyTorch float32
        run $cfg "$BENCH/bench_table" mc 3 >"$o" || fail "bench_table mc" "$o"
        cm=$(get "$o" mc_cpu_ms)
        cmw=$(get "$o" mc_ms)
        gf=$(get "$o" mc_gflops)
        rec "$r" $cfg mc_critsim "$cm"
        rec "$r" $cfg mc_peak "$(awk -v a="$gf" -v b="$dp" 'BEGIN { printf "%.3f", a / b }')"
        line="matrix completion D = 3, 1 thread: critsim $cm ms CPU, $cmw ms wall per iteration ($gf GFLOP/s, $(awk -v a="$gf" -v b="$dp" 'BEGIN { printf "%.0f", 100 * a / b }')% of dgemm peak)"
        if [ $HAVE_TORCH = 1 ]; then
            run $cfg "$PY" tests/bench/bench_mc_torch.py --threads 1 --reps 2 --iters 1000 >"$o" 2>&1
            tm=$(get "$o" mc_torch_cpu_ms)
            tmw=$(get "$o" mc_torch_ms)
            rec "$r" $cfg mc_torch "$tm"
            rec "$r" $cfg mc_ratio "$(ratio "$tm" "$cm")"
            line="$line; PyTorch float32 (faster loop) $tm ms CPU, $tmw ms wall -> ratio $(ratio "$tm" "$cm") CPU, $(ratio "$tmw" "$cmw") wall"
        fi
        echo "  $line"

        # 3. CNN training step, batch 128
        for T in 1 2; do
            for net in default big split; do
                case $net in
                default) a="fused 16" ;;
                big) a="fused 32" ;;
                split) a="split 10" ;;
                esac
                # shellcheck disable=SC2086
                run $cfg "$BENCH/bench_table" cnn $a $T "$SECS" >"$o" || fail "bench_table cnn $a $T" "$o"
                ciw=$(get "$o" cnn_ips)
                ci=$ciw
                [ $T = 1 ] && ci=$(get "$o" cnn_cpu_ips)
                cg=$(get "$o" cnn_conv_gflops)
                rec "$r" $cfg "cnn_${net}_$T" "$ci"
                rec "$r" $cfg "cnn_${net}_${T}_peak" "$(awk -v a="$cg" -v b="$sp" -v t=$T 'BEGIN { printf "%.3f", a / (b * t) }')"
                line="cnn $net, $T thread(s): critsim $ciw img/s wall$([ $T = 1 ] && echo ", $ci per CPU second") (convolutions $(awk -v s="$(get "$o" cnn_conv_share)" 'BEGIN { printf "%.0f", 100 * s }')% of the step at $(awk -v a="$cg" -v b="$sp" -v t=$T 'BEGIN { printf "%.0f", 100 * a / (b * t) }')% of $T x sgemm peak, direct-method flops)"
                if [ $HAVE_TORCH = 1 ]; then
                    run $cfg "$PY" tests/bench/bench_cnn_torch.py --net $net --threads $T --seconds "$SECS" >"$o" 2>&1
                    tiw=$(get "$o" cnn_torch_ips)
                    ti=$tiw
                    [ $T = 1 ] && ti=$(get "$o" cnn_torch_cpu_ips)
                    rec "$r" $cfg "cnn_${net}_${T}_torch" "$ti"
                    rec "$r" $cfg "cnn_${net}_${T}_ratio" "$(ratio "$ci" "$ti")"
                    line="$line; PyTorch $tiw img/s wall$([ $T = 1 ] && echo ", $ti per CPU second") -> ratio $(ratio "$ci" "$ti")$([ $T = 1 ] && echo " CPU, $(ratio "$ciw" "$tiw") wall")"
                fi
                echo "  $line"
            done
        done
    done
done

# summary: per row and configuration, the range over the rounds
range() { # range CFG KEY -> "min-max" (or the one value)
    awk -v c="$1" -v k="$2" '$2 == c && $3 == k { v = $4 + 0; if (n == 0 || v < lo) lo = v; if (n == 0 || v > hi) hi = v; n++ }
        END { if (n == 0) printf "n/a"; else if (lo == hi) printf "%g", lo; else printf "%g-%g", lo, hi }' "$RES"
}
echo
echo "== summary over $ROUNDS round(s) (ranges min-max; ratio = reference time / critsim time, or critsim images/s / PyTorch images/s; 1-thread rows in CPU seconds, 2-thread rows in wall seconds)"
echo "OpenBLAS kernel: as set $(cat "$DIR/core.set"), unset $(cat "$DIR/core.unset"); dgemm peak $(range set dgemm) / $(range unset dgemm) GFLOP/s, sgemm $(range set sgemm) / $(range unset sgemm) GFLOP/s (set / unset)"
printf '| work | reference | critsim (set / unset) | reference (set / unset) | ratio set | ratio unset | goal |\n'
printf '|---|---|---|---|---|---|---|\n'
printf '| multipath Fig. 2, 3 x 1000 steps, every step recorded (s; critsim: 3 processes) | lean PyTorch float32, 1 thread | %s / %s | %s / %s | %s | %s | >= 3 |\n' \
    "$(range set mp_critsim)" "$(range unset mp_critsim)" "$(range set mp_torch)" "$(range unset mp_torch)" "$(range set mp_ratio)" "$(range unset mp_ratio)"
printf '| matrix completion D = 3, one iteration (ms), 1 thread | lean PyTorch float32 | %s / %s | %s / %s | %s | %s | >= 1.3 |\n' \
    "$(range set mc_critsim)" "$(range unset mc_critsim)" "$(range set mc_torch)" "$(range unset mc_torch)" "$(range set mc_ratio)" "$(range unset mc_ratio)"
for T in 1 2; do
    for net in default big split; do
        case $net in
        default) nm="CNN default fused W16 D2" g=1.2 ;;
        big) nm="CNN All-CNN-style fused W32 D2" g=1.2 ;;
        split) nm="CNN split W10 D2 sum" g=1.5 ;;
        esac
        printf '| %s, %d thread(s) (img/s) | PyTorch, best layout | %s / %s | %s / %s | %s | %s | >= %s |\n' "$nm" $T \
            "$(range set cnn_${net}_$T)" "$(range unset cnn_${net}_$T)" "$(range set cnn_${net}_${T}_torch)" \
            "$(range unset cnn_${net}_${T}_torch)" "$(range set cnn_${net}_${T}_ratio)" "$(range unset cnn_${net}_${T}_ratio)" $g
    done
done
echo "fraction of peak (set / unset): multipath GD step $(range set mp_peak) / $(range unset mp_peak) of dgemm; completion $(range set mc_peak) / $(range unset mc_peak) of dgemm;"
echo "  CNN convolutions (of T x sgemm): default $(range set cnn_default_1_peak) / $(range unset cnn_default_1_peak) (1 thread), $(range set cnn_default_2_peak) / $(range unset cnn_default_2_peak) (2 threads); W32 $(range set cnn_big_1_peak) / $(range unset cnn_big_1_peak), $(range set cnn_big_2_peak) / $(range unset cnn_big_2_peak); split $(range set cnn_split_1_peak) / $(range unset cnn_split_1_peak), $(range set cnn_split_2_peak) / $(range unset cnn_split_2_peak)"
echo "multipath: GD step without recording $(range set mp_step_us) / $(range unset mp_step_us) us; recording a step (every 1 vs every 1000, per step) $(range set mp_rec_us) / $(range unset mp_rec_us) us (goal <= 10)"

# 4. width scaling of the multipath GD step (as set here), 1 and 2 OpenBLAS threads
echo
echo "== multipath GD step against hidden width (Fig. 2 shapes, D = 4, 2 pathways; OpenBLAS as set; 1 thread: CPU time, 2 threads: wall time; floor = every weight read and written once at the measured read+write bandwidth)"
printf '| width | threads | ms/step | floor ms | step/floor | GFLOP/s |\n|---|---|---|---|---|---|\n'
for w in $WIDTHS; do
    for T in 1 2; do
        [ "$w" -lt 500 ] && [ $T = 2 ] && continue
        "$BENCH/bench_table" width "$w" $T >"$DIR/o" || fail "bench_table width $w $T" "$DIR/o"
        ms=$(get "$DIR/o" width_ms)
        fl=$(get "$DIR/o" width_floor_ms)
        printf '| %s | %s | %s | %s | %s | %s |\n' "$w" $T "$ms" "$fl" "$(ratio "$ms" "$fl")" "$(get "$DIR/o" width_gflops)"
    done
done
