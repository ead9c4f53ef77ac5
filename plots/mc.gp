# mc.gp - deep matrix completion with a task switch (rank 10 -> 5, models/mc_switch.ini): left, the final
# test loss (mean squared error over all entries against task 2) vs the official deficit-removal epoch
# T_c = switch step - 1, for depths 1-3 (sv.dat must hold 10 rows per step: sv-top = 10) (DIR/dD/switch_sweep.dat); middle and right, the top-10
# singular values of the end-to-end map of the D = 3 run vs step for a short (T_c = 1000) and a long
# (T_c = 100000) task-1 phase (trunk DIR/d3/sv.dat up to the switch, then the branch's sv.dat), with the
# switch marked.  Reads run folders only; computes nothing.
# usage: gnuplot -e "dir='results/mc'; out='mc_switch.png'" plots/mc.gp
if (!exists("dir")) dir = 'results/mc'
if (!exists("out")) out = 'mc_switch.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
if (!exists("tcs")) tcs = "1000 100000"
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 13in,4in font "DejaVu Sans,11"; \
else set terminal pngcairo size (1600)*psz,480*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set multiplot layout 1, 3 title "deep matrix completion, task switch rank 10 -> 5 (n = 100, m = 2000, lr 0.2, init 0.001)"
set grid
set title "final test loss (T_c + 29999 updates)"
set xlabel "deficit removal T_c (updates on task 1)"
set ylabel "test MSE against task 2"
set key bottom right
set format y "%g"
set logscale y
plot for [d = 1:3] sprintf("%s/d%d/switch_sweep.dat", dir, d) using ($1 - 1):4 with linespoints pt 7 lw 2 title sprintf("D = %d", d)
unset logscale y
set ylabel "singular value of W_D ... W_1"
set xlabel "update (thousands)"
set key off
set logscale y
set yrange [1e-3:*]
do for [tc in tcs] {
  T = int(tc) + 1
  set xrange [0:(T + 29998) / 1000.0]
  set title sprintf("D = 3: top-10 singular values, T_c = %s", tc)
  set arrow 1 from T / 1000.0, graph 0 to T / 1000.0, graph 1 nohead dt 2 lc rgb "black"
  br = sprintf("%s/d3/switch_%d/sv.dat", dir, T)
  plot for [i = 0:9] sprintf("%s/d3/sv.dat", dir) every 10::i using ($1 <= T ? $1 / 1000.0 : NaN):4 with lines lw 1.5 lc i+1, \
       for [i = 0:9] br every 10::i using ($1 / 1000.0):4 with lines lw 1.5 lc i+1
  unset arrow 1
}
unset multiplot
