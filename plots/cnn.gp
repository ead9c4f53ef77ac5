# cnn.gp - critical periods in the CNN: final test accuracy vs the end of an early blur deficit, for
# the fused network with the whole image blurred (models/cnn_blur.ini) and the split network with
# source b blurred (models/cnn_split_blur.ini).  Reads the sweeps' summary.dat; computes nothing.
# usage: gnuplot -e "f1='results/sweep/cnn_blur/summary.dat'; f2='results/sweep/cnn_split_blur/summary.dat'; out='cnn_cp.png'" plots/cnn.gp
if (!exists("f1")) f1 = 'results/sweep/cnn_blur/summary.dat'
if (!exists("f2")) f2 = 'results/sweep/cnn_split_blur/summary.dat'
if (!exists("out")) out = 'cnn_cp.png'
# the last '#' line of each table names its columns; gnuplot reads it itself (no shell: a path may hold
# any character): every line whole (no comment character, a separator that no table holds), the last '#' one kept
set datafile commentschars ""; set datafile separator "\001"
h1 = ""; stats f1 using (hline = strcol(1), h1 = (hline[1:1] eq "#" ? hline : h1), 0) nooutput
h2 = ""; stats f2 using (hline = strcol(1), h2 = (hline[1:1] eq "#" ? hline : h2), 0) nooutput
set datafile commentschars "#"; set datafile separator whitespace
# column number of a column by name in header h
col(h, name) = sum [i = 2:words(h)] (word(h, i) eq name ? i - 1 : 0)
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 6in,4in font "DejaVu Sans,11"; \
else set terminal pngcairo size 800*psz,520*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set title "Fashion-MNIST, 10k images: blur to 7x7 on [0, END), then 12 clean epochs"
set xlabel "deficit end END (epochs)"
set ylabel "final test accuracy"
set grid
set key bottom right
e1 = col(h1, "end"); a1 = col(h1, "test_acc")
e2 = col(h2, "end"); a2 = col(h2, "test_acc")
plot f1 using (column(e1)):(column(a1)) with linespoints pt 7 lw 2 title "fused net, whole image blurred", \
     f2 using (column(e2)):(column(a2)) with linespoints pt 5 lw 2 title "split net, source b blurred"
