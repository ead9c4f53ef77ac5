# cnn_inh.gp - multisensory inhibition in the split CNN (issue 11 experiment 4; models/cnn_inh_remove.ini
# and models/cnn_inh_blur.ini, learning rate lr0 * 0.737^epoch): source b removed (or blurred to 4 x 4)
# on an early window [0, L) or a late window [12, 12 + L), then 12 clean epochs.
#   (a) final test accuracy vs the window length L: joint (both sources) and b alone (a zeroed), early
#       and late windows, the blurred b alone, and the deficit-free run at the same number of epochs
#       as the early windows (its b-alone accuracy);
#   (b) b-alone accuracy over epochs: early and late windows of length 8, deficit-free;
#   (c) the Jacobian share of b, E_b / (E_a + E_b), over epochs (snapshots) for the same runs;
#   (d) the RSV histogram of the fused units (fraction of units per bin; -1: driven by a only, +1: by
#       b only) at the end of the early L = 8 window, at the end of its run, and after dissociate@0-8.
# Mean over seeds, sample sd as error bars.  Reads the tables of plots/cnn_inh.awk (fixed column
# order, named in their last '#' line); computes nothing (the small x offsets keep error bars apart).
# usage: gnuplot -e "fin='final.dat'; ep='epochs.dat'; rsv='rsv.dat'; bfin='blur_final.dat'; brsv='blur_rsv.dat'; out='cnn_inh.png'" plots/cnn_inh.gp
if (!exists("fin")) fin = 'results/sweep/cnn_inh_remove/final.dat'
if (!exists("ep")) ep = 'results/sweep/cnn_inh_remove/epochs.dat'
if (!exists("rsv")) rsv = 'results/sweep/cnn_inh_remove/rsv.dat'
if (!exists("bfin")) bfin = 'results/sweep/cnn_inh_blur/final.dat'   # bfin='' and brsv='': no blur sweep
if (!exists("brsv")) brsv = 'results/sweep/cnn_inh_blur/rsv.dat'
if (!exists("out")) out = 'cnn_inh.png'
if (!exists("psz")) psz = 1
if (!exists("Lsel")) Lsel = 8   # window length of panels (b)-(d)
# columns of final.dat / epochs.dat: 1 fuse 2 def 3 kind 4 S 5 E 6 L 7 epochs|epoch 8 n, mean and sd:
# 9-10 test_acc 11-12 acc_a 13-14 acc_b 15-16 info_a 17-18 info_b 19-20 train_acc 21-22 train_loss
# 23-24 jshare_b, then in final.dat with a control 25-26 ctrl_test_acc 27-28 ctrl_acc_b 29-30
# ctrl_info_b 31-32 ctrl_jshare_b 33-34 d_test_acc 35-36 d_acc_b; rsv.dat: 1-6 as above, 7 epoch 8 bin
# 9 lo 10 hi 11 count 12 frac
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 9in,6.5in font "DejaVu Sans,10"; \
else set terminal pngcairo size 1200*psz,860*psz font "DejaVu Sans,10" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set multiplot layout 2,2 title "Split CNN (W8, D2, fused after stage 1), Fashion-MNIST 5k: source b deprived, then 12 clean epochs (lr = lr0 x 0.737 per epoch)"
is(k) = strcol(3) eq k
set grid
set key bottom left font ",9"
set title "(a) final test accuracy"
set xlabel "window length L (epochs)"
set ylabel "accuracy"
set xrange [0:9]
set yrange [0:1]
if (bfin ne "") {
plot fin using ($6 - 0.15):(is("early") ? $9 : NaN):10 with yerrorlines pt 7 lw 2 lc rgb "#1f77b4" title "early [0,L): joint", \
     fin using ($6 - 0.15):(is("early") ? $13 : NaN):14 with yerrorlines pt 7 lw 2 dt 2 lc rgb "#d62728" title "early [0,L): b alone", \
     fin using ($6 + 0.15):(is("late") ? $9 : NaN):10 with yerrorlines pt 5 lw 2 lc rgb "#17becf" title "late [12,12+L): joint", \
     fin using ($6 + 0.15):(is("late") ? $13 : NaN):14 with yerrorlines pt 5 lw 2 dt 2 lc rgb "#ff7f0e" title "late [12,12+L): b alone", \
     fin using 6:(is("early") ? $27 : NaN):28 with yerrorlines pt 1 lw 1 lc rgb "gray40" title "no deficit, same epochs: b alone", \
     bfin using ($6 + 0.3):(strcol(2) eq "blur:b:4" ? $13 : NaN):14 with yerrorlines pt 9 lw 2 dt 3 lc rgb "#9467bd" title "early blur:b:4: b alone"
} else {
plot fin using ($6 - 0.15):(is("early") ? $9 : NaN):10 with yerrorlines pt 7 lw 2 lc rgb "#1f77b4" title "early [0,L): joint", \
     fin using ($6 - 0.15):(is("early") ? $13 : NaN):14 with yerrorlines pt 7 lw 2 dt 2 lc rgb "#d62728" title "early [0,L): b alone", \
     fin using ($6 + 0.15):(is("late") ? $9 : NaN):10 with yerrorlines pt 5 lw 2 lc rgb "#17becf" title "late [12,12+L): joint", \
     fin using ($6 + 0.15):(is("late") ? $13 : NaN):14 with yerrorlines pt 5 lw 2 dt 2 lc rgb "#ff7f0e" title "late [12,12+L): b alone", \
     fin using 6:(is("early") ? $27 : NaN):28 with yerrorlines pt 1 lw 1 lc rgb "gray40" title "no deficit, same epochs: b alone"
}
set title sprintf("(b) b-alone test accuracy, L = %d", Lsel)
set xlabel "epoch"
set xrange [0:*]
set key bottom right
sel(k) = is(k) && ($6 == Lsel || k eq "none")
plot ep using 7:(sel("early") ? $13 : NaN):14 with yerrorlines pt 7 ps 0.6 lc rgb "#d62728" title sprintf("early [0,%d)", Lsel), \
     ep using 7:(sel("late") ? $13 : NaN):14 with yerrorlines pt 5 ps 0.6 lc rgb "#ff7f0e" title sprintf("late [12,%d)", 12 + Lsel), \
     ep using 7:(sel("none") ? $13 : NaN):14 with yerrorlines pt 1 ps 0.6 lc rgb "gray40" title "no deficit", \
     ep using 7:(sel("none") ? $11 : NaN) with lines dt 2 lc rgb "gray40" title "no deficit: a alone"
set title "(c) Jacobian share of b, E_b / (E_a + E_b)"
set ylabel "share of b"
set yrange [0:0.7]
plot ep using 7:(sel("early") ? $23 : NaN):24 with yerrorlines pt 7 ps 0.6 lc rgb "#d62728" title sprintf("early [0,%d)", Lsel), \
     ep using 7:(sel("late") ? $23 : NaN):24 with yerrorlines pt 5 ps 0.6 lc rgb "#ff7f0e" title sprintf("late [12,%d)", 12 + Lsel), \
     ep using 7:(sel("none") ? $23 : NaN):24 with yerrorlines pt 1 ps 0.6 lc rgb "gray40" title "no deficit"
set title "(d) RSV of the fused units (-1: a only, +1: b only)"
set xlabel "relative source variance"
set ylabel "fraction of units"
set xrange [-1.15:1.15]
set yrange [0:*]
set key top center
rs(k, e) = is(k) && $6 == Lsel && $7 == e
if (brsv ne "") {
plot rsv using (($9 + $10) / 2):(rs("early", Lsel) ? $12 : NaN) with histeps lw 2 lc rgb "#d62728" title sprintf("b removed on [0,%d): epoch %d", Lsel, Lsel), \
     rsv using (($9 + $10) / 2):(rs("early", Lsel + 12) ? $12 : NaN) with histeps lw 2 lc rgb "#1f77b4" title sprintf("b removed on [0,%d): epoch %d", Lsel, Lsel + 12), \
     rsv using (($9 + $10) / 2):(is("none") && $7 == Lsel + 12 ? $12 : NaN) with histeps lw 1 lc rgb "gray40" title sprintf("no deficit, epoch %d", Lsel + 12), \
     brsv using (($9 + $10) / 2):(strcol(2) eq "dissociate" && $7 == $5 ? $12 : NaN) with histeps lw 2 dt 2 lc rgb "#2ca02c" title "dissociate, end of window", \
     brsv using (($9 + $10) / 2):(strcol(2) eq "dissociate" && $7 == $5 + 12 ? $12 : NaN) with histeps lw 2 lc rgb "#2ca02c" title "dissociate, end of run"
} else {
plot rsv using (($9 + $10) / 2):(rs("early", Lsel) ? $12 : NaN) with histeps lw 2 lc rgb "#d62728" title sprintf("b removed on [0,%d): epoch %d", Lsel, Lsel), \
     rsv using (($9 + $10) / 2):(rs("early", Lsel + 12) ? $12 : NaN) with histeps lw 2 lc rgb "#1f77b4" title sprintf("b removed on [0,%d): epoch %d", Lsel, Lsel + 12), \
     rsv using (($9 + $10) / 2):(is("none") && $7 == Lsel + 12 ? $12 : NaN) with histeps lw 1 lc rgb "gray40" title sprintf("no deficit, epoch %d", Lsel + 12)
}
unset multiplot
