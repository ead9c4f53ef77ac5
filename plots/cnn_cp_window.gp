# cnn_cp_window.gp - when is the CNN sensitive to blur?  Test accuracy lost to a blur (to 4 x 4) window
# of 4 epochs [s, s + 4) within 20 epochs of training (models/cnn_cp_window.ini), paired by seed with
# the deficit-free 20-epoch run: mean over seeds, the vertical bar the sample sd of the paired
# difference, the horizontal bar the window.  On the right axis the Fisher information trace of the
# deficit-free run over epochs (models/cnn_cp_fisher.ini: mean over seeds +- sample sd), as in the ICLR
# 2019 study's Fig. 3.  Reads the window sweep's paired.dat (plots/cnn_paired.awk, reference
# blur:4@0-0) and fisher_seeds.dat (plots/cnn_fisher.awk); computes nothing.
# usage: gnuplot -e "f='results/sweep/cnn_cp_window/paired.dat'; ff='results/sweep/cnn_cp_fisher/fisher_seeds.dat'; out='cnn_cp_window.png'" plots/cnn_cp_window.gp
if (!exists("f")) f = 'results/sweep/cnn_cp_window/paired.dat'
if (!exists("ff")) ff = 'results/sweep/cnn_cp_fisher/fisher_seeds.dat'
if (!exists("out")) out = 'cnn_cp_window.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
# columns: paired.dat (plots/cnn_paired.awk, no group) deficit kind start end n test_acc_mean
# test_acc_sd loss_mean loss_sd ...; fisher_seeds.dat epoch n total_mean total_sd
ck = 2; cst = 3; cen = 4; cm = 8; cs = 9
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 6in,4in font "DejaVu Sans,11"; \
else set terminal pngcairo size 800*psz,520*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set title "Fashion-MNIST 5k, fused CNN: blur window of 4 epochs within 20 (lr 0.05 x 0.737^epoch)"
set xlabel "epoch (window [s, s + 4); Fisher trace after the epoch)"
set ylabel "test accuracy lost (vs no deficit, same seed)"
set y2label "Fisher information trace (no deficit)"
set ytics nomirror
set y2tics
set grid
set key below maxrows 1
set xrange [-0.5:20.5]
set xtics 0, 2, 20
plot 0 with lines lc rgb "gray50" dt 2 notitle, \
     f using (column(cst)):(strcol(ck) eq "blur" ? column(cm) : NaN):(column(cst)):(column(cen)):(column(cm) - column(cs)):(column(cm) + column(cs)) \
       with xyerrorbars pt 7 ps 1.3 lw 2 lc rgb "#d62728" title "accuracy lost to the blur window [s, s + 4), at its onset s", \
     ff using 1:3:4 axes x1y2 with yerrorlines pt 6 lw 1.5 lc rgb "#2ca02c" title "Fisher trace"
