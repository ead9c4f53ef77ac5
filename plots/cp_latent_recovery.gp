# cp_latent_recovery.gp - recovery time of the latent two-source task after source b was removed on
# updates [0, 2000) (models/cp_latent_recovery.ini, plots/recovery.awk -> recovery.dat): updates after
# the deficit until the share of pathway b (summed over the 4 degenerate modes) is within 0.01 of the
# deficit-free control's (left), and until 99% of the excess test loss is gone (right), vs depth; one
# colour per redundancy, one point per seed (a missing point: not recovered within the run).
# Plots only, computes nothing.
# usage: gnuplot -e "f='results/sweep/cp_latent_recovery/recovery.dat'; out='cp_latent_recovery.png'" plots/cp_latent_recovery.gp
if (!exists("f")) f = 'results/sweep/cp_latent_recovery/recovery.dat'
if (!exists("out")) out = 'cp_latent_recovery.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
# the last '#' line names the columns; gnuplot reads it itself (no shell: a path may hold any
# character): every line whole (no comment character, a separator that no table holds), the last '#' one kept
set datafile commentschars ""; set datafile separator "\001"
hdr = ""; stats f using (hline = strcol(1), hdr = (hline[1:1] eq "#" ? hline : hdr), 0) nooutput
set datafile commentschars "#"; set datafile separator whitespace
col(name) = sum [i = 2:words(hdr)] (word(hdr, i) eq name ? i - 1 : 0)
cd = col("depth"); cr = col("redundancy"); cs = col("seed"); ct = col("t_share"); cl = col("t_loss")
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 10in,4.2in font "DejaVu Sans,11"; \
else set terminal pngcairo size (1200)*psz,500*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set multiplot layout 1, 2 title "latent task, source b removed on [0, 2000): recovery time vs depth (one point per seed)"
set grid
set xrange [0.5:4.5]
set xtics 1
set xlabel "depth D (weight matrices per pathway)"
set yrange [0:*]
set offsets 0, 0, graph 0.3, 0   # room above the points for the key
rhos = "0.5 0.8 0.9"
array LC[3] = ["#2ca02c", "#1f77b4", "#d62728"]
set key top left title "redundancy"
set title "share of b within 0.01 of the control's"
set ylabel "updates after the deficit"
plot for [k = 1:3] f using ((abs(column(cr) - word(rhos, k)) < 1e-9) ? column(cd) + 0.08 * (column(cs) - 1) : NaN):(column(ct)) \
     with points pt 7 ps 0.9 lc rgb LC[k] title word(rhos, k)
set title "99% of the excess test loss gone"
set ylabel ""
plot for [k = 1:3] f using ((abs(column(cr) - word(rhos, k)) < 1e-9) ? column(cd) + 0.08 * (column(cs) - 1) : NaN):(column(cl)) \
     with points pt 7 ps 0.9 lc rgb LC[k] title word(rhos, k)
unset multiplot
