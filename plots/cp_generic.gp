# cp_generic.gp - the Fig. 2 setup from a generic Gaussian initialisation (models/cp_generic.ini, critsim
# sweep): final share of pathway b per block of modes (mode 0, mode 1, modes 2-3, modes 4-7: the last
# two are degenerate blocks, read as block sums) without a deficit (black) and after b was gated on
# [0, 150) (red), from the same initial weights: one column of points per seed (seed 1 leftmost), one
# panel per depth.  Plots only, computes nothing.
# usage: gnuplot -e "f='results/sweep/cp_generic/summary.dat'; out='cp_generic.png'" plots/cp_generic.gp
if (!exists("f")) f = 'results/sweep/cp_generic/summary.dat'
if (!exists("out")) out = 'cp_generic.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
# the last '#' line names the columns; gnuplot reads it itself (no shell: a path may hold any
# character): every line whole (no comment character, a separator that no table holds), the last '#' one kept
set datafile commentschars ""; set datafile separator "\001"
hdr = ""; stats f using (hline = strcol(1), hdr = (hline[1:1] eq "#" ? hline : hdr), 0) nooutput
set datafile commentschars "#"; set datafile separator whitespace
col(name) = sum [i = 2:words(hdr)] (word(hdr, i) eq name ? i - 1 : 0)
cd = col("depth"); ce = col("end"); cs = col("seed")
blocks = "share_b_m0 share_b_m1 share_b_m2_3 share_b_m4_7"
depths = "1 2 4"
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 11in,4in font "DejaVu Sans,11"; \
else set terminal pngcairo size (1300)*psz,480*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set multiplot layout 1, 3 title "Fig. 2 setup, generic Gaussian initialisation (init-scale 0.01), 5 seeds: final share of b, no deficit (black) vs b gated on [0,150) (red)"
set grid
set xrange [-0.5:3.5]
set xtics ("m0" 0, "m1" 1, "m2-3" 2, "m4-7" 3)
set xlabel "mode (s = √15, √7, √3, 1) or block of modes"
set yrange [-0.05:1]
set ylabel "K_b / (K_a + K_b) at the end"
do for [k = 1:3] {
  D = int(word(depths, k))
  set title sprintf("D = %d", D)
  if (k == 1) { set key top right } else { unset key }
  plot for [b = 1:4] f using ((column(cd) == D && column(ce) == 0) ? b - 1 + 0.1 * (column(cs) - 3) : NaN):(column(col(word(blocks, b)))) \
         with points pt 7 ps 0.7 lc rgb "black" title (b == 1 ? "no deficit" : ""), \
       for [b = 1:4] f using ((column(cd) == D && column(ce) == 150) ? b - 1 + 0.1 * (column(cs) - 3) : NaN):(column(col(word(blocks, b)))) \
         with points pt 5 ps 0.7 lc rgb "#d62728" title (b == 1 ? "gate b [0,150)" : "")
}
unset multiplot
