# mc_factors.gp - matrix completion, target MC4 (models/mc_switch.ini at D = 3): final test loss vs the
# official deficit-removal epoch T_c = switch step - 1 for the baseline (task-1 rank 10, m = 2000
# observed entries: DIR/d3), a lower task-1 rank (rank 2: DIR/d3_r2) and fewer observations
# (m = 1000: DIR/d3_m1000); task 2 has rank 5 in every run.  Reads switch_sweep.dat; computes nothing.
# usage: gnuplot -e "dir='results/mc'; out='mc_factors.png'" plots/mc_factors.gp
if (!exists("dir")) dir = 'results/mc'
if (!exists("out")) out = 'mc_factors.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 6in,4.2in font "DejaVu Sans,10"; \
else set terminal pngcairo size (760)*psz,520*psz font "DejaVu Sans,10" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set title "D = 3 matrix completion, task 2 of rank 5: what the task-1 phase costs"
set grid
set xlabel "deficit removal T_c (updates on task 1)"
set ylabel "final test MSE against task 2"
set logscale y
set format y "10^{%L}"
set key at graph 0.98, 0.6 right top box opaque
set yrange [1e-5:30]
plot sprintf("%s/d3/switch_sweep.dat", dir) using ($1 - 1):4 with linespoints pt 7 lw 2 lc rgb "#56b4e9" title "task-1 rank 10, m = 2000 (baseline)", \
     sprintf("%s/d3_r2/switch_sweep.dat", dir) using ($1 - 1):4 with linespoints pt 5 lw 2 lc rgb "#009e73" title "task-1 rank 2, m = 2000", \
     sprintf("%s/d3_m1000/switch_sweep.dat", dir) using ($1 - 1):4 with linespoints pt 9 lw 2 lc rgb "#d62728" title "task-1 rank 10, m = 1000"
