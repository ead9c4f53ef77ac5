# flow_fig3.gp - ICLR 2024 Fig. 3 on full weight matrices (models/flow_fig3.ini): left, K_a (wide pale
# line) and K_b (dashed) of modes 0-4 vs update, pathway b gated on [0, 200) (shaded) and mode 1 of
# pathway a lesioned for the whole run; right, the final K_a and K_b per mode (bars, last rows of the
# table).  Reads DIR/modes.dat (columns step mode s K_a K_b); computes nothing.
# usage: gnuplot -e "dir='results/flow_fig3'; out='flow_fig3.png'" plots/flow_fig3.gp
if (!exists("dir")) dir = 'results/flow_fig3'
if (!exists("out")) out = 'flow_fig3.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
if (!exists("gate_end")) gate_end = 200
if (!exists("last")) last = 1000
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 11in,4in font "DejaVu Sans,11"; \
else set terminal pngcairo size (1300)*psz,480*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
f = sprintf("%s/modes.dat", dir)
array C[8] = ["#9400d3", "#009e73", "#56b4e9", "#e69f00", "#f0c000", "#0072b2", "#e51e10", "#000000"]
array S[5] = ["sqrt 15", "sqrt 7", "sqrt 3", "sqrt 3", "1"]
set multiplot layout 1, 2 title "depth 3, width 100, full-matrix GD: b gated on [0, 200), mode 1 of pathway a lesioned throughout"
set grid
set title "K_a (wide pale line) and K_b (dashed) vs update"
set xlabel "update"
set ylabel "K_{p,mode} = u^T W^p_3 W^p_2 W^p_1 v"
set xrange [0:last]
set yrange [-0.05:4.6]
set key at graph 0.98, 0.8 right top maxrows 3 font ",10" title "mode (s)" opaque
set object 1 rect from 0, graph 0 to gate_end, graph 1 fc rgb "#e8e8e8" fs solid noborder behind
plot for [m = 0:4] f every 8::m using 1:4 with lines lw 6 lc rgb ("#80".C[m+1][2:7]) title sprintf("%d (%s)", m, S[m+1]), \
     for [m = 0:4] f every 8::m using 1:5 with lines lw 2 dt 2 lc rgb C[m+1] notitle
unset object 1
set title sprintf("final K per mode (update %d)", last)
set xlabel "mode"
set ylabel "K at the end"
set xrange [-0.6:7.6]
set yrange [0:4.2]
set xtics 1
set style fill solid 0.8 border -1
set boxwidth 0.38
set key top right maxrows 2 title ""
plot f using ($1 == last ? $2 - 0.2 : NaN):4 with boxes lc rgb "#4477aa" title "K_a", \
     f using ($1 == last ? $2 + 0.2 : NaN):5 with boxes lc rgb "#ee6677" title "K_b", \
     f using ($1 == last ? $2 : NaN):3 with points pt 6 ps 1.5 lc rgb "black" title "s"
unset multiplot
