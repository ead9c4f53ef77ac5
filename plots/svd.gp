# svd.gp - per-source singular values over time (critsim analyze's svd.dat), one panel per source,
# the deficit window shaded.  Plots only: reads RUN/svd.dat, computes nothing.
# usage: gnuplot -e "run='RUN'; out='fig.png'; dlo=0; dhi=150; nsv=8" plots/svd.gp
#   dlo/dhi: deficit window in steps (omit both: no shading); nsv: singular values per panel (default 8)
if (!exists("run")) run = 'results/flow'
if (!exists("out")) out = run.'/fig_svd.png'
if (!exists("nsv")) nsv = 8
set terminal pngcairo size 1500,450 font "DejaVu Sans,11"
set output out
f = run.'/svd.dat'
sources = system("awk '!/^#/ { print $2 }' '".f."' | awk '!seen[$0]++' | tr '\\n' ' '")
n = words(sources)
set multiplot layout 1, n title "singular values of each per-source map (sorted; ".run.")" noenhanced
set xlabel "step (updates)"
set ylabel "singular value"
set key off
set grid
if (exists("dlo") && exists("dhi")) set object 1 rect from dlo, graph 0 to dhi, graph 1 fc rgb "#d9d9d9" fs solid 0.6 noborder behind
do for [p = 1:n] {
    src = word(sources, p)
    set title (src eq "total" ? "total map" : "source ".src)
    plot for [i = 0:nsv-1] sprintf("< awk '!/^#/ && $2 == \"%s\" && $3 == %d' '%s'", src, i, f) using 1:4 with lines lw 2 lc i+1
}
unset multiplot
