# rsv.gp - Relative Source Variance histograms at chosen steps (critsim analyze's rsv_hist.dat: 39 bins,
# edges linspace(-1.15, 1.15, 40), as in the official code).  Plots only: computes nothing.
# Sign convention: RSV = (SV_b - SV_a) / (SV_a + SV_b): -1 = unit driven by source a only, +1 = by b only.
# usage: gnuplot -e "run='RUN'; out='fig.png'; steps='0 990 3000'" plots/rsv.gp
#   steps: recorded steps present in rsv_hist.dat (default: the first and the last; one panel when they are equal)
if (!exists("run")) run = 'results/flow'
if (!exists("out")) out = run.'/fig_rsv.png'
f = run.'/rsv_hist.dat'
# gnuplot reads the table itself (no shell: a path may hold any character)
if (!exists("steps")) { stats f using 1 nooutput; steps = sprintf("%.15g", STATS_min).(STATS_max > STATS_min ? sprintf(" %.15g", STATS_max) : "") }
n = words(steps)
set terminal pngcairo size (n * 420 > 840 ? n * 420 : 840),400 font "DejaVu Sans,11"
set output out
set multiplot layout 1, n title "Relative Source Variance (-1: source a only, +1: source b only; ".run.")" noenhanced
set xlabel "Relative Source Variance"
set ylabel "Number of Units"
set xrange [-1.15:1.15]
set yrange [0:*]
set style fill solid 0.7 border -1
set key off
do for [i = 1:n] {
    s = word(steps, i)
    set title "step ".s
    # the rows of step s only (the others are undefined points, which boxes skip)
    plot f using (column(1) == real(s) ? ($3 + $4) / 2 : NaN):5:($4 - $3) with boxes lc rgb "#3366aa"
}
unset multiplot
