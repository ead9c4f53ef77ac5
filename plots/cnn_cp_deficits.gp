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
# columns of curves.dat (fixed by plots/cnn_cp_deficits.awk: kind t0 epochs n test_acc_mean test_acc_sd ...)
ck = 1; ct = 2; ce = 3; cm = 5; cs = 6
if (!exists("clean")) clean = 12   # the model file's clean-epochs (the controls are clean and 12 + clean epochs long)
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 6in,4in font "DejaVu Sans,11"; \
else set terminal pngcairo size 800*psz,520*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set title sprintf("Fashion-MNIST 5k, fused CNN: deficit on [0, t0), then %d clean epochs (lr decaying)", clean)
set xlabel "deficit end t0 (epochs)"
set ylabel "final test accuracy"
set grid
set key below maxrows 2
set xrange [-1:14]
set xtics 0, 2, 12
is(k) = strcol(ck) eq k
ctl(e) = (is("none") && column(ce) == e)
plot f using (6.5):(ctl(clean) ? column(cm) : NaN):(-1):(14):(column(cm) - column(cs)):(column(cm) + column(cs)) \
       with boxxyerror fs transparent solid 0.25 noborder lc rgb "gray40" title sprintf("no deficit, %d epochs", clean), \
     f using (6.5):(ctl(clean + 12) ? column(cm) : NaN):(-1):(14):(column(cm) - column(cs)):(column(cm) + column(cs)) \
       with boxxyerror fs transparent pattern 4 border lc rgb "gray30" title sprintf("no deficit, %d epochs", clean + 12), \
     f using (column(ct) - 0.3):(is("blur") ? column(cm) : NaN):(column(cs)) with yerrorlines pt 7 lw 2 lc rgb "#d62728" title "blur to 4x4", \
     f using (column(ct) - 0.1):(is("flip") ? column(cm) : NaN):(column(cs)) with yerrorlines pt 5 lw 2 lc rgb "#1f77b4" title "vertical flip", \
     f using (column(ct) + 0.1):(is("labels") ? column(cm) : NaN):(column(cs)) with yerrorlines pt 9 lw 2 lc rgb "#2ca02c" title "label permutation", \
     f using (column(ct) + 0.3):(is("noise") ? column(cm) : NaN):(column(cs)) with yerrorlines pt 11 lw 2 lc rgb "#9467bd" title "noise images"
