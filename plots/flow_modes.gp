# flow_modes.gp - ICLR 2024 Fig. 2 on full weight matrices (models/flow_fig2.ini): pathway-specific
# singular values K_a (wide pale line) and K_b (dashed) of every mode vs update, for pathway b gated early
# (0-150), middle (400-550) and late (750-900); window shaded.  Reads DIR/{early,middle,late}/modes.dat
# (columns step mode s K_a K_b); computes nothing.
# usage: gnuplot -e "dir='results/flow_fig2'; out='flow_fig2.png'" plots/flow_modes.gp
if (!exists("dir")) dir = 'results/flow_fig2'
if (!exists("out")) out = 'flow_fig2.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 13in,4in font "DejaVu Sans,11"; \
else set terminal pngcairo size (1600)*psz,480*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set multiplot layout 1, 3 title "two pathways of width 100, depth 4, hierarchical task, aligned init (full-matrix GD, lr 0.01)"
set grid
set xlabel "update"
set ylabel "K_{p,mode} = u^T W^p_4 ... W^p_1 v"
set xrange [0:1000]
set yrange [-0.05:5.2]
set key top right maxrows 2 font ",10" title "mode (K_a pale, K_b dashed)"
# gnuplot's default colour cycle per mode; pale copies (alpha 0x80) for the wide K_a band
array C[8] = ["#9400d3", "#009e73", "#56b4e9", "#e69f00", "#f0c000", "#0072b2", "#e51e10", "#000000"]
array N[3] = ["early", "middle", "late"]
array S[3] = [0, 400, 750]
do for [k = 1:3] {
  set title sprintf("%s: b gated on [%d, %d)", N[k], S[k], S[k] + 150)
  set object 1 rect from S[k], graph 0 to S[k] + 150, graph 1 fc rgb "#e8e8e8" fs solid noborder behind
  f = sprintf("%s/%s/modes.dat", dir, N[k])
  # rows are step-major with 8 modes: `every 8::m` selects mode m
  plot for [m = 0:7] f every 8::m using 1:4 with lines lw 6 lc rgb ("#80".C[m+1][2:7]) title sprintf("%d", m), \
       for [m = 0:7] f every 8::m using 1:5 with lines lw 2 dt 2 lc rgb C[m+1] notitle
  unset object 1
}
unset multiplot
