# cp_act.gp - the ICLR 2024 nonlinear check: final share of pathway b vs depth for ReLU and tanh
# pathways (critsim flow --act, points: mean and sample sd over seeds) next to the linear prediction of
# the reduced theory (critsim modes, lines), b gated 150 updates early / middle / late.  Modes 2-3 and
# 4-7 are degenerate: the nonlinear points are their block shares (share_b_m2_3, share_b_m4_7), the
# linear lines modes 2 and 4 (equal to the block shares there, every mode of a block having the same s
# and K(0)).  Reads two tables; computes nothing.
# usage: gnuplot -e "f='results/sweep/cp_act/summary_seeds.dat'; g='results/sweep/cp_gate/summary.dat'; out='cp_act.png'" plots/cp_act.gp
if (!exists("f")) f = 'results/sweep/cp_act/summary_seeds.dat'
if (!exists("g")) g = 'results/sweep/cp_gate/summary.dat'
if (!exists("out")) out = 'cp_act.png'
if (!exists("psz")) psz = 1
# the last '#' line of each table names its columns; gnuplot reads it itself (no shell: a path may hold
# any character): every line whole (no comment character, a separator that no table holds), the last '#' one kept
set datafile commentschars ""; set datafile separator "\001"
hf = ""; stats f using (hline = strcol(1), hf = (hline[1:1] eq "#" ? hline : hf), 0) nooutput
hg = ""; stats g using (hline = strcol(1), hg = (hline[1:1] eq "#" ? hline : hg), 0) nooutput
set datafile commentschars "#"; set datafile separator whitespace
cf(name) = sum [i = 2:words(hf)] (word(hf, i) eq name ? i - 1 : 0)
cg(name) = sum [i = 2:words(hg)] (word(hg, i) eq name ? i - 1 : 0)
array LIN[4] = ["share_b_m0", "share_b_m1", "share_b_m2", "share_b_m4"]
array NL[4] = ["share_b_m0", "share_b_m1", "share_b_m2_3", "share_b_m4_7"]
array LAB[4] = ["mode 0 (s = sqrt 15)", "mode 1 (sqrt 7)", "modes 2-3 (sqrt 3)", "modes 4-7 (1)"]
if (out[strlen(out)-3:] eq '.pdf') set terminal pdfcairo size 12in,7.5in font "DejaVu Sans,11"; \
else set terminal pngcairo size 1500*psz,900*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz)
set output out
set multiplot layout 2, 3 title "final share of pathway b, b gated for 150 of 1000 updates: nonlinear pathways (points, mean +- sd over 3 seeds) vs the linear theory (lines, critsim modes)"
set xlabel "depth D (weight matrices per pathway)"
set ylabel "K_b / (K_a + K_b) at the end"
set yrange [-0.02:0.72]
set xrange [0.5:6.5]
set xtics 1
set grid
do for [a in "relu tanh"] {
  do for [o in "0 400 750"] {
    if (o eq "750" && a eq "relu") { set key bottom left maxrows 4 samplen 1 width -2 } else { unset key }
    set title sprintf("%s (after every layer), gate b on [%s, %d)", a, o, int(o) + 150)
    # relu D >= 5 did not learn without a deficit (control: onset 1000 in the table)
    if (a eq "relu") { set label 1 "D >= 5: no convergence\nwithout any deficit" at 4.2, 0.66 font ",9" } else { unset label 1 }
    plot for [m = 1:4] g using (column(cg("onset")) == int(o) ? column(cg("depth")) : NaN):(column(cg(LIN[m]))) \
           with lines lw 1.5 lc m notitle, \
         for [m = 1:4] f using (strcol(cf("act")) eq a && column(cf("onset")) == int(o) ? column(cf("depth")) + 0.06 * (m - 2.5) : NaN):(column(cf(NL[m]."_mean"))):(column(cf(NL[m]."_sd"))) \
           with yerrorbars pt 7 ps 0.6 lc m title LAB[m]
  }
}
unset multiplot
