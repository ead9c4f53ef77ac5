# cnn_cp_restart.gp - critical period or decayed learning rate?  Accuracy lost to a deficit on epochs
# [0, t0) followed by the same clean epochs, paired by seed with the deficit-free 12-epoch run, for
# blur to 4 x 4 and its negative control the vertical flip, under the decaying learning rate
# (models/cnn_cp_deficits.ini) and with the learning rate restarted at lr0 when the deficit ends
# (models/cnn_cp_restart.ini).  Mean over seeds with the sample sd of the paired difference as error
# bars; the open symbols at t0 = 12 are the deficit-free runs of 24 epochs (their loss is the effect of
# the 12 extra epochs alone).  Reads the two paired.dat tables of plots/cnn_paired.awk (reference
# blur:4@0-0); computes nothing (the small x offsets only keep the error bars apart).
# usage: gnuplot -e "f1='results/sweep/cnn_cp_deficits/paired.dat'; f2='results/sweep/cnn_cp_restart/paired.dat'; out='cnn_cp_restart.png'" plots/cnn_cp_restart.gp
if (!exists("f1")) f1 = 'results/sweep/cnn_cp_deficits/paired.dat'
if (!exists("f2")) f2 = 'results/sweep/cnn_cp_restart/paired.dat'
if (!exists("out")) out = 'cnn_cp_restart.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
# columns of paired.dat without groups (plots/cnn_paired.awk): deficit kind start end n test_acc_mean
# test_acc_sd loss_mean loss_sd ...
ck = 2; ce = 4; cm = 8; cs = 9
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 6in,4in font "DejaVu Sans,11"; \
else set terminal pngcairo size 800*psz,520*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set title "Fashion-MNIST 5k, fused CNN: deficit on [0, t0), then 12 clean epochs"
set xlabel "deficit end t0 (epochs)"
set ylabel "test accuracy lost (vs no deficit, same seed)"
set grid
set key below maxrows 3
set xrange [-1:14]
set xtics 0, 2, 12
set yrange [*:*]
is(k) = strcol(ck) eq k
plot 0 with lines lc rgb "gray50" dt 2 notitle, \
     f1 using (column(ce) - 0.3):(is("blur") || (is("none") && column(ce) == 0) ? column(cm) : NaN):(column(cs)) \
       with yerrorlines pt 7 lw 2 lc rgb "#d62728" title "blur, lr decaying", \
     f2 using (column(ce) - 0.1):(is("blur") || (is("none") && column(ce) == 0) ? column(cm) : NaN):(column(cs)) \
       with yerrorlines pt 7 lw 2 dt 2 lc rgb "#ff7f0e" title "blur, lr restarted at t0", \
     f1 using (column(ce) + 0.1):(is("flip") || (is("none") && column(ce) == 0) ? column(cm) : NaN):(column(cs)) \
       with yerrorlines pt 5 lw 2 lc rgb "#1f77b4" title "flip, lr decaying", \
     f2 using (column(ce) + 0.3):(is("flip") || (is("none") && column(ce) == 0) ? column(cm) : NaN):(column(cs)) \
       with yerrorlines pt 5 lw 2 dt 2 lc rgb "#17becf" title "flip, lr restarted at t0", \
     f1 using (column(ce) + 0.5):(is("none") && column(ce) > 0 ? column(cm) : NaN):(column(cs)) \
       with yerrorbars pt 6 ps 1.5 lc rgb "gray30" title "no deficit, 24 epochs (decaying)", \
     f2 using (column(ce) + 0.7):(is("none") && column(ce) > 0 ? column(cm) : NaN):(column(cs)) \
       with yerrorbars pt 4 ps 1.5 lc rgb "gray30" title "no deficit, 12 + 12 epochs (restart at 12)"
