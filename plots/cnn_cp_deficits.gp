# cnn_cp_deficits.gp - is the CNN's critical period specific to blur?  Final test accuracy vs the end
# t0 of a deficit on epochs [0, t0), followed by the same clean epochs, for blur to 4 x 4, vertical
# flip, label permutation and noise images (models/cnn_cp_deficits.ini): mean over seeds with the
# sample sd as error bars; the deficit-free controls (no deficit, the shortest and the longest run)
# as horizontal bands mean +- sd.  Reads curves.dat (plots/cnn_cp_deficits.awk reshapes the sweep's
# summary_seeds.dat); computes nothing (the small x offsets only keep the error bars apart).
# usage: gnuplot -e "f='results/sweep/cnn_cp_deficits/curves.dat'; out='cnn_cp_deficits.png'" plots/cnn_cp_deficits.gp
if (!exists("f")) f = 'results/sweep/cnn_cp_deficits/curves.dat'
if (!exists("out")) out = 'cnn_cp_deficits.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
# the last '#' line names the columns; gnuplot reads it itself (no shell: a path may hold any
# character): every line whole (no comment character, a separator that no table holds), the last '#' one kept
set datafile commentschars ""; set datafile separator "\001"
hdr = ""; stats f using (hline = strcol(1), hdr = (hline[1:1] eq "#" ? hline : hdr), 0) nooutput
set datafile commentschars "#"; set datafile separator whitespace
col(name) = sum [i = 2:words(hdr)] (word(hdr, i) eq name ? i - 1 : 0)
ck = col("kind"); ct = col("t0"); ce = col("epochs"); cm = col("test_acc_mean"); cs = col("test_acc_sd")
if (ck * ct * ce * cm * cs == 0) print "cnn_cp_deficits.gp: ".f." lacks a column (kind t0 epochs test_acc_mean test_acc_sd)"; exit status 1
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 6in,4in font "DejaVu Sans,11"; \
else set terminal pngcairo size 800*psz,520*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set title "Fashion-MNIST 5k, fused CNN: deficit on [0, t0), then 16 clean epochs"
set xlabel "deficit end t0 (epochs)"
set ylabel "final test accuracy"
set grid
set key below maxrows 2
set xrange [-1:14]
set xtics 0, 4, 12
is(k) = strcol(ck) eq k
ctl(e) = (is("none") && column(ce) == e)
plot f using (6.5):(ctl(16) ? column(cm) : NaN):(-1):(14):(column(cm) - column(cs)):(column(cm) + column(cs)) \
       with boxxyerror fs transparent solid 0.25 noborder lc rgb "gray40" title "no deficit, 16 epochs", \
     f using (6.5):(ctl(28) ? column(cm) : NaN):(-1):(14):(column(cm) - column(cs)):(column(cm) + column(cs)) \
       with boxxyerror fs transparent pattern 4 border lc rgb "gray30" title "no deficit, 28 epochs", \
     f using (column(ct) - 0.3):(is("blur") ? column(cm) : NaN):(column(cs)) with yerrorlines pt 7 lw 2 lc rgb "#d62728" title "blur to 4x4", \
     f using (column(ct) - 0.1):(is("flip") ? column(cm) : NaN):(column(cs)) with yerrorlines pt 5 lw 2 lc rgb "#1f77b4" title "vertical flip", \
     f using (column(ct) + 0.1):(is("labels") ? column(cm) : NaN):(column(cs)) with yerrorlines pt 9 lw 2 lc rgb "#2ca02c" title "label permutation", \
     f using (column(ct) + 0.3):(is("noise") ? column(cm) : NaN):(column(cs)) with yerrorlines pt 11 lw 2 lc rgb "#9467bd" title "noise images"
