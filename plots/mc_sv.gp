# mc_sv.gp - deep matrix completion with a task switch (models/mc_switch.ini): the top-10 singular values
# of the end-to-end map vs update for depths D = 1, 2, 3 (columns) and three switch steps (rows:
# T_c = 1000, 20000, 100000); the task-1 trunk (DIR/dD/sv.dat) up to the switch, then the branch
# (DIR/dD/switch_T/sv.dat, T = T_c + 1); the switch is the dashed line.  Index 0-4: the directions task
# 2 keeps; 5-9: the extra task-1 directions, which a deep network no longer prunes after a long task 1.
# Reads run folders only; computes nothing.
# usage: gnuplot -e "dir='results/mc'; out='mc_sv.png'" plots/mc_sv.gp
if (!exists("dir")) dir = 'results/mc'
if (!exists("out")) out = 'mc_sv.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
if (!exists("tcs")) tcs = "1000 20000 100000"
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 12in,9in font "DejaVu Sans,10"; \
else set terminal pngcairo size (1350)*psz,1000*psz font "DejaVu Sans,10" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set multiplot layout words(tcs), 3 title "matrix completion rank 10 -> 5: top-10 singular values of W_D ... W_1 (solid: index 0-4, dashed: index 5-9)"
set grid
set logscale y
set yrange [1e-3:200]
set format y "10^{%L}"
set xlabel "update (thousands)"
unset key
do for [r = 1:words(tcs)] {
  tc = word(tcs, r)
  T = int(tc) + 1
  do for [d = 1:3] {
    set title sprintf("D = %d, switch after T_c = %s", d, tc)
    set ylabel (d == 1 ? "singular value" : "")
    set xrange [0:(T + 29998) / 1000.0]
    set arrow 1 from T / 1000.0, graph 0 to T / 1000.0, graph 1 nohead dt 2 lw 1.5 lc rgb "black"
    tr = sprintf("%s/d%d/sv.dat", dir, d)
    br = sprintf("%s/d%d/switch_%d/sv.dat", dir, d, T)
    plot for [i = 0:9] tr every 10::i using ($1 <= T ? $1 / 1000.0 : NaN):4 with lines lw 1.5 dt 1+(i>4) lc i+1, \
         for [i = 0:9] br every 10::i using ($1 / 1000.0):4 with lines lw 1.5 dt 1+(i>4) lc i+1
    unset arrow 1
  }
}
unset multiplot
