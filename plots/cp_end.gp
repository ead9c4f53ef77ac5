# cp_end.gp - critical-period curve: final share of pathway b, K_b / (K_a + K_b), vs. the end of an
# early gate of b (gate:b@0-END), one curve per depth; left the strongest mode (s = sqrt 15), right a
# weak one (s = 1).  Reads a sweep's summary.dat (models/cp_end.ini); plots only, computes nothing.
# usage: gnuplot -e "f='results/sweep/cp_end/summary.dat'; out='cp_end.png'" plots/cp_end.gp
if (!exists("f")) f = 'results/sweep/cp_end/summary.dat'
if (!exists("out")) out = 'cp_end.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
# the last '#' line names the columns; gnuplot reads it itself (no shell: a path may hold any
# character): every line whole (no comment character, a separator that no table holds), the last '#' one kept
set datafile commentschars ""; set datafile separator "\001"
hdr = ""; stats f using (hline = strcol(1), hdr = (hline[1:1] eq "#" ? hline : hdr), 0) nooutput
set datafile commentschars "#"; set datafile separator whitespace
col(name) = sum [i = 2:words(hdr)] (word(hdr, i) eq name ? i - 1 : 0)
cd = col("depth"); ce = col("end")
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 10in,4in font "DejaVu Sans,11"; \
else set terminal pngcairo size (1200)*psz,480*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set multiplot layout 1, 2 title "final share of pathway b after gating b on updates [0, END)"
set xlabel "deficit end END (updates; dt = 0.01)"
set ylabel "K_b / (K_a + K_b) at the end"
set yrange [-0.02:0.55]
set grid
set key outside right top title "depth"
do for [m in "0 4"] {
  c = col("share_b_m".m)
  set title (m eq "0" ? "mode 0 (s = sqrt 15)" : "mode ".m." (s = 1)")
  plot for [d = 1:8] f using (column(cd) == d ? column(ce) : NaN):(column(c)) with linespoints pt 7 ps 0.4 lw 1.5 lc d title sprintf("D = %d", d)
}
unset multiplot
