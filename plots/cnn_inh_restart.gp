# cnn_inh_restart.gp - multisensory inhibition with the learning rate restarted when the deficit ends
# (issue 11 experiment 6 on experiment 4; models/cnn_inh_restart.ini, models/cnn_inh_norz.ini), beside
# the linear theory at constant learning rate (models/cp_end.ini).
#   (a) final test accuracy vs the window length L: joint and b alone after early [0, L) and late
#       [12, 12 + L) windows of remove:b, each followed by 12 clean epochs at lr0 * 0.737^(e - R);
#       the deficit-free run with the same clean cycle (L = 0) and without random zeroing of a source
#       in training (models/cnn_inh_norz.ini, L = 8);
#   (b) b-alone accuracy over epochs, early and late L = 8 and the deficit-free run restarted at 20;
#   (c) the linear two-pathway network at constant learning rate: share of b of the strongest mode
#       and 1 - (loss with b alone) / (loss of the zero map) vs the end of a gate on b, depth 1 and 4.
# Mean over seeds, sample sd as error bars.  Reads plots/cnn_inh.awk's tables (columns in
# plots/cnn_inh.gp) and cp_end's summary.dat (1 depth 2 deficit 3 end 4 final_loss 5 share_b_m0 ...
# 29 loss_without_a 30 loss_without_b; the zero map's loss is 16); computes nothing but that ratio.
# usage: gnuplot -e "fin='final.dat'; ep='epochs.dat'; nfin='norz_final.dat'; lin='cp_end/summary.dat'; out='x.png'" plots/cnn_inh_restart.gp
if (!exists("fin")) fin = 'results/sweep/cnn_inh_restart/final.dat'
if (!exists("ep")) ep = 'results/sweep/cnn_inh_restart/epochs.dat'
if (!exists("nfin")) nfin = 'results/sweep/cnn_inh_norz/final.dat'   # nfin='': no such sweep
if (!exists("lin")) lin = 'results/sweep/cp_end/summary.dat'
if (!exists("out")) out = 'cnn_inh_restart.png'
if (!exists("psz")) psz = 1
if (!exists("Lsel")) Lsel = 8
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 11in,4in font "DejaVu Sans,10"; \
else set terminal pngcairo size 1500*psz,540*psz font "DejaVu Sans,10" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set multiplot layout 1,3 title "Learning rate restarted at lr0 when the deficit ends (split CNN, source b removed), beside the linear theory at constant learning rate"
is(k) = strcol(3) eq k
set grid
set key bottom left font ",9"
set title "(a) CNN, restart: final test accuracy"
set xlabel "window length L (epochs)"
set ylabel "accuracy"
set xrange [-0.5:9]
set yrange [0:1]
if (nfin ne "") {
plot fin using ($6 - 0.15):(is("early") || ($5 == 0) ? $9 : NaN):10 with yerrorlines pt 7 lw 2 lc rgb "#1f77b4" title "early [0,L): joint", \
     fin using ($6 - 0.15):(is("early") || ($5 == 0) ? $13 : NaN):14 with yerrorlines pt 7 lw 2 dt 2 lc rgb "#d62728" title "early [0,L): b alone", \
     fin using ($6 + 0.15):(is("late") ? $9 : NaN):10 with yerrorlines pt 5 lw 2 lc rgb "#17becf" title "late [12,12+L): joint", \
     fin using ($6 + 0.15):(is("late") ? $13 : NaN):14 with yerrorlines pt 5 lw 2 dt 2 lc rgb "#ff7f0e" title "late [12,12+L): b alone", \
     nfin using ($6 + 0.35):(is("early") ? $13 : NaN):14 with yerrorbars pt 6 ps 1.3 lw 2 lc rgb "#d62728" title "early, no random zeroing: b alone", \
     nfin using ($6 + 0.45):(is("late") ? $13 : NaN):14 with yerrorbars pt 4 ps 1.3 lw 2 lc rgb "#ff7f0e" title "late, no random zeroing: b alone"
} else {
plot fin using ($6 - 0.15):(is("early") || ($5 == 0) ? $9 : NaN):10 with yerrorlines pt 7 lw 2 lc rgb "#1f77b4" title "early [0,L): joint", \
     fin using ($6 - 0.15):(is("early") || ($5 == 0) ? $13 : NaN):14 with yerrorlines pt 7 lw 2 dt 2 lc rgb "#d62728" title "early [0,L): b alone", \
     fin using ($6 + 0.15):(is("late") ? $9 : NaN):10 with yerrorlines pt 5 lw 2 lc rgb "#17becf" title "late [12,12+L): joint", \
     fin using ($6 + 0.15):(is("late") ? $13 : NaN):14 with yerrorlines pt 5 lw 2 dt 2 lc rgb "#ff7f0e" title "late [12,12+L): b alone"
}
set title sprintf("(b) CNN, restart: b-alone accuracy, L = %d", Lsel)
set xlabel "epoch"
set xrange [0:*]
set key bottom right
sel(k) = is(k) && $6 == Lsel
plot ep using 7:(sel("early") ? $13 : NaN):14 with yerrorlines pt 7 ps 0.6 lc rgb "#d62728" title sprintf("early [0,%d)", Lsel), \
     ep using 7:(sel("late") ? $13 : NaN):14 with yerrorlines pt 5 ps 0.6 lc rgb "#ff7f0e" title sprintf("late [12,%d)", 12 + Lsel), \
     ep using 7:(is("none") && $5 > 0 ? $13 : NaN):14 with yerrorlines pt 1 ps 0.6 lc rgb "gray40" title "no deficit, restart at 20"
set title "(c) linear two-pathway network, constant learning rate"
set xlabel "end of the gate on b (updates, dt 0.01)"
set ylabel "share of b; 1 - loss(b alone) / loss(zero map)"
set xrange [0:400]
set yrange [0:0.8]
set key top right
plot lin using 3:($1 == 1 ? $5 : NaN) with lines lw 2 lc rgb "#1f77b4" title "D = 1: share of b, mode 0", \
     lin using 3:($1 == 4 ? $5 : NaN) with lines lw 2 lc rgb "#d62728" title "D = 4: share of b, mode 0", \
     lin using 3:($1 == 1 ? 1 - $29 / 16 : NaN) with lines lw 1 dt 2 lc rgb "#1f77b4" title "D = 1: 1 - loss(b alone)/16", \
     lin using 3:($1 == 4 ? 1 - $29 / 16 : NaN) with lines lw 1 dt 2 lc rgb "#d62728" title "D = 4: 1 - loss(b alone)/16"
unset multiplot
