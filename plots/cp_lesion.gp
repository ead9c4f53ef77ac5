# cp_lesion.gp - ICLR 2024 Fig. 3 per depth: final share of pathway b per mode vs. depth, b gated on
# [0, 200), left without, right with mode 1 of pathway a lesioned (models/cp_lesion.ini).  Expected:
# with the lesion, b takes mode 1 entirely (share 1) while the other modes look like the left panel.
# usage: gnuplot -e "f='results/sweep/cp_lesion/summary.dat'; out='cp_lesion.png'" plots/cp_lesion.gp
if (!exists("f")) f = 'results/sweep/cp_lesion/summary.dat'
if (!exists("out")) out = 'cp_lesion.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
# the last '#' line names the columns; gnuplot reads it itself (no shell: a path may hold any
# character): every line whole (no comment character, a separator that no table holds), the last '#' one kept
set datafile commentschars ""; set datafile separator "\001"
hdr = ""; stats f using (hline = strcol(1), hdr = (hline[1:1] eq "#" ? hline : hdr), 0) nooutput
set datafile commentschars "#"; set datafile separator whitespace
col(name) = sum [i = 2:words(hdr)] (word(hdr, i) eq name ? i - 1 : 0)
cd = col("depth"); cf = col("deficit")
array S[5] = ["sqrt 15", "sqrt 7", "sqrt 3", "sqrt 3", "1"]
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 10in,4in font "DejaVu Sans,11"; \
else set terminal pngcairo size (1200)*psz,480*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set multiplot layout 1, 2 title "final share of pathway b per mode; b gated on [0, 200)"
set xlabel "depth D"
set ylabel "K_b / (K_a + K_b) at the end"
set yrange [-0.02:1.05]
set xrange [0.5:8.5]
set xtics 1
set grid
set key center right title "mode (s)"
do for [w in "gate:b@0-200 gate:b@0-200+lesion:a:1@0-1000"] {
  set title (strlen(w) > 13 ? "with mode 1 of pathway a lesioned" : "gate only")
  plot for [m = 0:4] f using (strcol(cf) eq w ? column(cd) : NaN):(column(col(sprintf("share_b_m%d", m)))) with linespoints pt 7 ps 0.5 lw 1.5 lc m+1 title sprintf("%d (%s)", m, S[m+1])
}
unset multiplot
