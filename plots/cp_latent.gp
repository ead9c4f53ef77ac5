# cp_latent.gp - latent multi-source task (models/cp_latent.ini, critsim flow): final share of pathway b
# (mode 0) and final test loss vs. redundancy between the sources, source b removed for the first END
# updates; one curve per depth and END.  Plots only, computes nothing.
# usage: gnuplot -e "f='results/sweep/cp_latent/summary.dat'; out='cp_latent.png'" plots/cp_latent.gp
if (!exists("f")) f = 'results/sweep/cp_latent/summary.dat'
if (!exists("out")) out = 'cp_latent.png'
hdr = system("grep '^#' '".f."' | tail -n 1")
col(name) = sum [i = 2:words(hdr)] (word(hdr, i) eq name ? i - 1 : 0)
cd = col("depth"); ce = col("end"); cr = col("redundancy")
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 10in,4in font "DejaVu Sans,11"; \
else set terminal pngcairo size 1200,480 font "DejaVu Sans,11"
set output out
set multiplot layout 1, 2 title "latent two-source task, source b removed on [0, END)"
set xlabel "redundancy between the sources"
set grid
set key outside right top
ends = "0 1000 2000"
set title "share of pathway b (mode 0)"
set ylabel "K_b / (K_a + K_b) at the end"
set yrange [-0.05:0.6]
plot for [k = 1:3] for [d = 1:3] f using ((column(cd) == d && column(ce) == int(word(ends, k))) ? column(cr) : NaN):(column(col("share_b_m0"))) with linespoints pt 7 ps 0.5 lw 1.5 lc d dt k title sprintf("D = %d, END = %s", d, word(ends, k))
set title "final test loss"
set ylabel "test loss"
set autoscale y
plot for [k = 1:3] for [d = 1:3] f using ((column(cd) == d && column(ce) == int(word(ends, k))) ? column(cr) : NaN):(column(col("test_loss"))) with linespoints pt 7 ps 0.5 lw 1.5 lc d dt k title sprintf("D = %d, END = %s", d, word(ends, k))
unset multiplot
