# cnn_cp_depth.gp - does the blur critical period grow with depth?  Test accuracy lost to blur (to
# 4 x 4) on [0, 6) and [0, 12) and to the vertical flip on [0, 12), each followed by 12 clean epochs
# with the decaying learning rate, paired by seed with the deficit-free run of 24 epochs
# (blur:4@12-12).  Left: the fused network at depth D = 1, 2, 3 (models/cnn_cp_depth.ini; D = 2 from
# models/cnn_cp_deficits.ini, the same protocol).  Right: the split network (two image halves) with
# F = 0, 1, 2 stride-2 stages in each pathway before fusion (models/cnn_cp_split.ini).  Mean over seeds
# with the sample sd of the paired difference as error bars.  Reads three paired.dat tables of
# plots/cnn_paired.awk (reference blur:4@12-12; fd grouped by depth, fs by fuse-after, f2 ungrouped);
# computes nothing (the small x offsets only keep the error bars apart).
# usage: gnuplot -e "fd='.../cnn_cp_depth/paired.dat'; f2='.../cnn_cp_deficits/paired_24.dat'; fs='.../cnn_cp_split/paired.dat'; out='cnn_cp_depth.png'" plots/cnn_cp_depth.gp
if (!exists("fd")) fd = 'results/sweep/cnn_cp_depth/paired.dat'
if (!exists("f2")) f2 = 'results/sweep/cnn_cp_deficits/paired_24.dat'
if (!exists("fs")) fs = 'results/sweep/cnn_cp_split/paired.dat'
if (!exists("out")) out = 'cnn_cp_depth.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
# columns of paired.dat (plots/cnn_paired.awk): [group] deficit kind start end n test_acc_mean
# test_acc_sd loss_mean loss_sd ...; g = 1 with a group column, 0 without
cd(g) = 1 + g; cm(g) = 8 + g; cs(g) = 9 + g
is(g, d) = strcol(cd(g)) eq d
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 7in,3.6in font "DejaVu Sans,10"; \
else set terminal pngcairo size 960*psz,480*psz font "DejaVu Sans,10" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set multiplot layout 1, 2 title "Fashion-MNIST 5k: accuracy lost to an early deficit (vs no deficit, 24 epochs, same seed)"
set grid
set ylabel "test accuracy lost"
set key top left
set yrange [-0.01:*]
set xrange [0.5:3.5]
set xtics 1, 1, 3
set xlabel "fused network: depth D (stride-2 stages)"
set title "fused, whole image"
plot 0 with lines lc rgb "gray50" dt 2 notitle, \
     fd using ($1 - 0.1):(is(1, "blur:4@0-12") ? column(cm(1)) : NaN):(column(cs(1))) with yerrorbars pt 7 ps 1.3 lc rgb "#d62728" title "blur [0, 12)", \
     f2 using (2 - 0.1):(is(0, "blur:4@0-12") ? column(cm(0)) : NaN):(column(cs(0))) with yerrorbars pt 7 ps 1.3 lc rgb "#d62728" notitle, \
     fd using ($1):(is(1, "blur:4@0-6") ? column(cm(1)) : NaN):(column(cs(1))) with yerrorbars pt 9 ps 1.3 lc rgb "#ff7f0e" title "blur [0, 6)", \
     f2 using (2):(is(0, "blur:4@0-6") ? column(cm(0)) : NaN):(column(cs(0))) with yerrorbars pt 9 ps 1.3 lc rgb "#ff7f0e" notitle, \
     fd using ($1 + 0.1):(is(1, "flip@0-12") ? column(cm(1)) : NaN):(column(cs(1))) with yerrorbars pt 5 ps 1.3 lc rgb "#1f77b4" title "flip [0, 12)", \
     f2 using (2 + 0.1):(is(0, "flip@0-12") ? column(cm(0)) : NaN):(column(cs(0))) with yerrorbars pt 5 ps 1.3 lc rgb "#1f77b4" notitle
set xrange [-0.5:2.5]
set xtics 0, 1, 2
set xlabel "split network: stages F in each pathway before fusion"
set title "split, depth 2, two image halves"
plot 0 with lines lc rgb "gray50" dt 2 notitle, \
     fs using ($1 - 0.1):(is(1, "blur:4@0-12") ? column(cm(1)) : NaN):(column(cs(1))) with yerrorbars pt 7 ps 1.3 lc rgb "#d62728" title "blur [0, 12)", \
     fs using ($1):(is(1, "blur:4@0-6") ? column(cm(1)) : NaN):(column(cs(1))) with yerrorbars pt 9 ps 1.3 lc rgb "#ff7f0e" title "blur [0, 6)", \
     fs using ($1 + 0.1):(is(1, "flip@0-12") ? column(cm(1)) : NaN):(column(cs(1))) with yerrorbars pt 5 ps 1.3 lc rgb "#1f77b4" title "flip [0, 12)"
unset multiplot
