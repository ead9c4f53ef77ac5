# headline.gp - the main job's figures (critsim modes --headline).
#   gnuplot -e "dir='results/headline'; outdir='results/figures'; fmt='png'" plots/headline.gp
# writes outdir/headline_share.FMT: final share K_b/(K_a+K_b) vs depth per mode, one panel per window
# (early [0,150), middle [400,550), late [750,900)), and outdir/headline_fig2.FMT: K_a (solid) and
# K_b (dashed) vs update for modes 0, 1, 2, 4 at D = 4 (the ICLR 2024 Fig. 2 layout).  Plots only read data.
if (!exists("dir")) dir = 'results/headline'
if (!exists("outdir")) outdir = 'results/figures'
if (!exists("fmt")) fmt = 'png'
if (fmt eq 'pdf') { set terminal pdfcairo size 11in,3.6in font "DejaVu Sans,11" } else { set terminal pngcairo size 1500,480 font "DejaVu Sans,11" }

win = "early middle late"
wlab = "'early [0,150)' 'middle [400,550)' 'late [750,900)'"
ms = "3.87 2.65 1.73 1.73 1 1 1 1"

set output outdir.'/headline_share.'.fmt
set multiplot layout 1,3 title "Final share of pathway b after gating b (8-mode hierarchical task, small init K0 = 0.01, dt = 0.01, 1000 updates)"
set xlabel "depth D (weight matrices per pathway)"
set ylabel "K_b / (K_a + K_b)"
set yrange [0:0.55]
set xrange [0.8:6.2]
set xtics 1
set grid
# the key sits in the empty middle band of every panel (curves are near 0 or near 0.5)
set key right center font ",9" opaque box
do for [w=1:3] {
  set title word(wlab, w) noenhanced
  # modes 2 = 3 and 4 = 5 = 6 = 7 have equal s and identical curves: draw one of each
  plot for [m in "0 1 2 4"] sprintf('%s/share_%s.dat', dir, word(win, w)) u 1:(column(int(m)+2)) w lp pt 7 ps 0.6 \
       lc int(m)+1 title sprintf('mode %s (s = %s)', m, word(ms, int(m)+1))
}
unset multiplot

set output outdir.'/headline_fig2.'.fmt
set multiplot layout 1,3 title "D = 4 (modes engine, Euler dt = 0.01): K_a (wide pale) and K_b (dashed) per mode vs update; gate window shaded"
set xlabel "update"
set ylabel "K"
set xrange [0:1000]
set xtics auto
set yrange [0:4.6]
set key top right maxrows 2 font ",9" title "mode: K_a wide pale line, K_b dashed"
# colours of gnuplot's default cycle for modes 0, 1, 2, 4; pale copies (alpha) for the wide K_a band
array C[4] = ["#9400d3", "#009e73", "#56b4e9", "#f0c000"]
array P[4] = ["#809400d3", "#80009e73", "#8056b4e9", "#80f0c000"]
do for [w=1:3] {
  set title word(wlab, w) noenhanced
  f = sprintf('%s/d4/%s/modes.dat', dir, word(win, w))
  ws = (w == 1 ? 0 : (w == 2 ? 400 : 750))
  set object 1 rect from ws, graph 0 to ws + 150, graph 1 fc rgb "#e8e8e8" fs solid noborder behind
  # rows are step-major with 8 modes: `every 8::m` selects mode m (a 1/0 filter would break the lines)
  plot for [i=1:4] f every 8::int(word("0 1 2 4", i)) u 1:4 w l lw 6 lc rgb P[i] \
         title sprintf('%s (s = %s)', word("0 1 2 4", i), word(ms, int(word("0 1 2 4", i))+1)), \
       for [i=1:4] f every 8::int(word("0 1 2 4", i)) u 1:5 w l lw 2 dt 2 lc rgb C[i] notitle
  unset object 1
}
unset multiplot
