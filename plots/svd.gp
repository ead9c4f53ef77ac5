# svd.gp - per-source singular values over time (critsim analyze's svd.dat), one panel per source,
# the deficit window shaded.  Plots only: reads RUN/svd.dat, computes nothing.
# usage: gnuplot -e "run='RUN'; out='fig.png'; dlo=0; dhi=150; nsv=8" plots/svd.gp
#   dlo/dhi: deficit window in steps (omit both: no shading); nsv: singular values per panel (default 8)
if (!exists("run")) run = 'results/flow'
if (!exists("out")) out = run.'/fig_svd.png'
if (!exists("nsv")) nsv = 8
f = run.'/svd.dat'
# gnuplot reads the table itself (no shell: a path may hold any character): the sources (column 2) in
# order of first appearance, then $S: one data set per source p and index i (index (p-1)*nsv + i: step
# sigma of those rows, file order) so that each line joins its own points; an empty set holds one
# undefined point
sources = ""; stats f using (src = strcol(2)." ", sources = (strstrt(" ".sources, " ".src) ? sources : sources.src), 0) nooutput
n = words(sources)
set print $S; unset print   # empty
do for [p = 1:n] {
  do for [i = 0:nsv-1] {
    n0 = |$S|
    set table $S append
    plot f using (strcol(1)):(strcol(4)) with table if (strcol(2) eq word(sources, p) && column(3) == i)
    unset table
    set print $S append
    if (|$S| == n0) { print "NaN NaN" }
    print ""; print ""
    unset print
  }
}
set terminal pngcairo size 1500,450 font "DejaVu Sans,11"
set output out
set multiplot layout 1, n title "singular values of each per-source map (sorted; ".run.")" noenhanced
set xlabel "step (updates)"
set ylabel "singular value"
set key off
set grid
if (exists("dlo") && exists("dhi")) set object 1 rect from dlo, graph 0 to dhi, graph 1 fc rgb "#d9d9d9" fs solid 0.6 noborder behind
do for [p = 1:n] {
    src = word(sources, p)
    set title (src eq "total" ? "total map" : "source ".src)
    plot for [i = 0:nsv-1] $S index (p - 1) * nsv + i using 1:2 with lines lw 2 lc i+1
}
unset multiplot
