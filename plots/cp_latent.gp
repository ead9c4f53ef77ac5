# cp_latent.gp - latent multi-source task (models/cp_latent.ini, critsim flow): final share of pathway b
# (summed over the task's k = 4 degenerate modes, share_b_m0_3, top row) and final test loss (bottom row) vs. redundancy between the sources, one column per
# depth D = 1, 2, 3, one curve per deficit length (source b removed on updates [0, END), END = 0 is the
# deficit-free run).  Plots only, computes nothing.
# usage: gnuplot -e "f='results/sweep/cp_latent/summary.dat'; out='cp_latent.png'" plots/cp_latent.gp
#        (models/cp_latent_long.ini: add steps=30000 for the title)
if (!exists("f")) f = 'results/sweep/cp_latent/summary.dat'
if (!exists("out")) out = 'cp_latent.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
if (!exists("steps")) steps = 3000
# the last '#' line names the columns; gnuplot reads it itself (no shell: a path may hold any
# character): every line whole (no comment character, a separator that no table holds), the last '#' one kept
set datafile commentschars ""; set datafile separator "\001"
hdr = ""; stats f using (hline = strcol(1), hdr = (hline[1:1] eq "#" ? hline : hdr), 0) nooutput
set datafile commentschars "#"; set datafile separator whitespace
col(name) = sum [i = 2:words(hdr)] (word(hdr, i) eq name ? i - 1 : 0)
cd = col("depth"); ce = col("end"); cr = col("redundancy")
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 11in,6.5in font "DejaVu Sans,11"; \
else set terminal pngcairo size (1300)*psz,780*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set multiplot layout 2, 3 title sprintf("latent two-source task (one pathway per source), source b removed on updates [0, END), %d updates in all", steps)
set grid
set xrange [-0.02:1.02]
ends = "0 1000 2000"
array LC[3] = ["black", "#1f77b4", "#d62728"]
do for [d = 1:3] {
  set title sprintf("D = %d: share of pathway b (modes 0-3)", d)
  set xlabel ""
  set ylabel (d == 1 ? "K_b / (K_a + K_b) at the end" : "")
  set yrange [-0.05:0.6]
  set key bottom left title "END"
  plot for [k = 1:3] f using ((column(cd) == d && column(ce) == int(word(ends, k))) ? column(cr) : NaN):(column(col("share_b_m0_3"))) \
       with linespoints pt 7 ps 0.6 lw 2 lc rgb LC[k] title word(ends, k)
}
do for [d = 1:3] {
  set title sprintf("D = %d: final test loss", d)
  set xlabel "redundancy between the sources"
  set ylabel (d == 1 ? "test loss (intact sources)" : "")
  set yrange [0:0.07]
  set key top left title "END"
  plot for [k = 1:3] f using ((column(cd) == d && column(ce) == int(word(ends, k))) ? column(cr) : NaN):(column(col("test_loss"))) \
       with linespoints pt 7 ps 0.6 lw 2 lc rgb LC[k] title word(ends, k)
}
unset multiplot
