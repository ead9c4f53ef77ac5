# cnn_inh_theory.gp - theory beside measurement (issue 11 experiment 7): how much of the learnt map
# runs through source b after an early deficit of b, vs the deficit length, shallow vs deep.
#   (a) linear two-pathway network (models/cp_end.ini, constant learning rate): share of b of the
#       strongest mode vs the end of a gate on b, depth 1, 2, 4 and 8;
#   (b) split CNN (restart protocol, models/cnn_inh_depth.ini and models/cnn_inh_restart.ini): the
#       Jacobian share of b, E_b / (E_a + E_b), at the end of training vs the length E of remove:b on
#       [0, E), fuse-after 0 (shallow pathways), 1 and 2 (deep pathways);
#   (c) the same runs' b-alone test accuracy.
# Mean over seeds, sample sd as error bars.  Reads plots/cnn_inh.awk's final.dat tables (columns in
# plots/cnn_inh.gp: 1 fuse, 5 E, 13-14 acc_b, 23-24 jshare_b) and cp_end's summary.dat (1 depth, 3 end,
# 5 share_b_m0); computes nothing.
# usage: gnuplot -e "dfin='depth/final.dat'; sfin='restart/final.dat'; lin='cp_end/summary.dat'; out='x.png'" plots/cnn_inh_theory.gp
if (!exists("dfin")) dfin = 'results/sweep/cnn_inh_depth/final.dat'
if (!exists("sfin")) sfin = 'results/sweep/cnn_inh_restart/final.dat'
if (!exists("lin")) lin = 'results/sweep/cp_end/summary.dat'
if (!exists("out")) out = 'cnn_inh_theory.png'
if (!exists("psz")) psz = 1
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 11in,4in font "DejaVu Sans,10"; \
else set terminal pngcairo size 1500*psz,540*psz font "DejaVu Sans,10" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set multiplot layout 1,3 title "Share of source b after an early deficit of b: linear theory (constant lr) beside the split CNN (lr restarted after the deficit)"
early(f) = ((strcol(3) eq "early") || (strcol(3) eq "none" && $5 == 0)) && (strcol(1) eq f)
set grid
set title "(a) linear two-pathway network"
set xlabel "end of the gate on b (updates, dt 0.01)"
set ylabel "share of b, strongest mode"
set xrange [0:400]
set yrange [0:0.55]
set key top right
plot lin using 3:($1 == 1 ? $5 : NaN) with lines lw 2 lc rgb "#1f77b4" title "D = 1 (shallow)", \
     lin using 3:($1 == 2 ? $5 : NaN) with lines lw 2 lc rgb "#2ca02c" title "D = 2", \
     lin using 3:($1 == 4 ? $5 : NaN) with lines lw 2 lc rgb "#d62728" title "D = 4 (deep)", \
     lin using 3:($1 == 8 ? $5 : NaN) with lines lw 2 lc rgb "#9467bd" title "D = 8"
set title "(b) split CNN: Jacobian share of b, end of training"
set xlabel "deficit length E (epochs), then 12 clean epochs"
set ylabel "E_b / (E_a + E_b)"
set xrange [-0.5:9]
set yrange [0:0.7]
plot dfin using ($5 - 0.15):(early("0") ? $23 : NaN):24 with yerrorlines pt 7 lw 2 lc rgb "#1f77b4" title "fuse-after 0 (shallow)", \
     sfin using ($5):(early("1") ? $23 : NaN):24 with yerrorlines pt 9 lw 2 lc rgb "#2ca02c" title "fuse-after 1", \
     dfin using ($5 + 0.15):(early("2") ? $23 : NaN):24 with yerrorlines pt 5 lw 2 lc rgb "#d62728" title "fuse-after 2 (deep)"
set title "(c) split CNN: b-alone test accuracy, end of training"
set ylabel "accuracy with b alone"
set yrange [0:1]
plot dfin using ($5 - 0.15):(early("0") ? $13 : NaN):14 with yerrorlines pt 7 lw 2 lc rgb "#1f77b4" title "fuse-after 0 (shallow)", \
     sfin using ($5):(early("1") ? $13 : NaN):14 with yerrorlines pt 9 lw 2 lc rgb "#2ca02c" title "fuse-after 1", \
     dfin using ($5 + 0.15):(early("2") ? $13 : NaN):14 with yerrorlines pt 5 lw 2 lc rgb "#d62728" title "fuse-after 2 (deep)"
unset multiplot
