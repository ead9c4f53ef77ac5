# share.gp - tracked share of source b per mode, K_b / (K_a + K_b), and the inhibition index over time
# (critsim analyze's share.dat), deficit window shaded.  Plots only: computes nothing.
# usage: gnuplot -e "run='RUN'; out='fig.png'; dlo=0; dhi=150; nmodes=8" plots/share.gp
if (!exists("run")) run = 'results/flow'
if (!exists("out")) out = run.'/fig_share.png'
f = run.'/share.dat'
if (!exists("nmodes")) nmodes = int(system("awk '!/^#/ { print $2 }' '".f."' | sort -un | wc -l"))
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
plot for [m = 0:nmodes-1] sprintf("< awk '!/^#/ && $2 == %d' '%s'", m, f) using 1:3 with lines lw 2 lc m+1 title sprintf("mode %d", m)
set title "inhibition |K_a - K_b| / (|K_a| + |K_b|)"
set ylabel "inhibition"
plot for [m = 0:nmodes-1] sprintf("< awk '!/^#/ && $2 == %d' '%s'", m, f) using 1:4 with lines lw 2 lc m+1 title sprintf("mode %d", m)
unset multiplot
