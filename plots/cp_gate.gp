# cp_gate.gp - ICLR 2024 Fig. 2 comparison per depth: final share of pathway b per mode vs. depth for
# b gated 150 updates early (0-150), middle (400-550) and late (750-900).  Reads a sweep's summary.dat
# (models/cp_gate.ini, window axis first so rows of one window are contiguous); computes nothing.
# usage: gnuplot -e "f='results/sweep/cp_gate/summary.dat'; out='cp_gate.png'" plots/cp_gate.gp
if (!exists("f")) f = 'results/sweep/cp_gate/summary.dat'
if (!exists("out")) out = 'cp_gate.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
# the last '#' line names the columns; gnuplot reads it itself (no shell: a path may hold any
# character): every line whole (no comment character, a separator that no table holds), the last '#' one kept
set datafile commentschars ""; set datafile separator "\001"
hdr = ""; stats f using (hline = strcol(1), hdr = (hline[1:1] eq "#" ? hline : hdr), 0) nooutput
set datafile commentschars "#"; set datafile separator whitespace
col(name) = sum [i = 2:words(hdr)] (word(hdr, i) eq name ? i - 1 : 0)
cd = col("depth"); co = col("onset")
array S[8] = ["sqrt 15", "sqrt 7", "sqrt 3", "sqrt 3", "1", "1", "1", "1"]
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 12in,4in font "DejaVu Sans,11"; \
else set terminal pngcairo size (1500)*psz,480*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set multiplot layout 1, 3 title "final share of pathway b per mode; b gated for 150 updates (dt = 0.01, 1000 updates)"
set xlabel "depth D (weight matrices per pathway)"
set ylabel "K_b / (K_a + K_b) at the end"
set yrange [-0.02:0.72]
set xrange [0.5:8.5]
set xtics 1
set grid
do for [o in "0 400 750"] {
  # one legend, in the late panel, where every curve sits at 0.5 and the lower half is empty
  if (o eq "750") { set key bottom right maxrows 4 samplen 1 width -3 title "mode (s)" } else { unset key }
  set title sprintf("gate b on [%s, %d)", o, int(o) + 150)
  plot for [m = 0:7] f using (column(co) == int(o) ? column(cd) : NaN):(column(col(sprintf("share_b_m%d", m)))) with linespoints pt 7 ps 0.5 lw 1.5 lc m+1 title sprintf("%d (%s)", m, S[m+1])
}
unset multiplot
