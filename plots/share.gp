# share.gp - tracked share of source b per mode, K_b / (K_a + K_b), and the inhibition index over time
# (critsim analyze's share.dat), deficit window shaded.  Plots only: computes nothing.
# usage: gnuplot -e "run='RUN'; out='fig.png'; dlo=0; dhi=150; nmodes=8" plots/share.gp
if (!exists("run")) run = 'results/flow'
if (!exists("out")) out = run.'/fig_share.png'
f = run.'/share.dat'
# gnuplot reads the table itself (no shell: a path may hold any character).  Default nmodes: the number
# of distinct modes (column 2) in the table
if (!exists("nmodes")) { seen = ""; stats f using (m = " ".strcol(2)." ", seen = (strstrt(seen, m) ? seen : seen.m), 0) nooutput; nmodes = words(seen) }
# $M: one data set per mode m (index m: step share_b inhibition of the rows of mode m, file order) so
# that each line joins the points of its own mode only; an empty set holds one undefined point
set print $M; unset print   # empty
do for [m = 0:nmodes-1] {
  n0 = |$M|
  set table $M append
  plot f using (strcol(1)):(strcol(3)):(strcol(4)) with table if (column(2) == m)
  unset table
  set print $M append
  if (|$M| == n0) { print "NaN NaN NaN" }
  print ""; print ""
  unset print
}
set terminal pngcairo size 1200,450 font "DejaVu Sans,11"
set output out
set multiplot layout 1, 2 title "tracked modes (fixed target singular vectors; ".run.")" noenhanced
set xlabel "step (updates)"
set grid
set key outside right top
if (exists("dlo") && exists("dhi")) set object 1 rect from dlo, graph 0 to dhi, graph 1 fc rgb "#d9d9d9" fs solid 0.6 noborder behind
set title "share of source b: K_b / (K_a + K_b)"
set ylabel "share_b"
set yrange [-0.05:1.05]
plot for [m = 0:nmodes-1] $M index m using 1:2 with lines lw 2 lc m+1 title sprintf("mode %d", m)
set title "inhibition |K_a - K_b| / (|K_a| + |K_b|)"
set ylabel "inhibition"
plot for [m = 0:nmodes-1] $M index m using 1:3 with lines lw 2 lc m+1 title sprintf("mode %d", m)
unset multiplot
