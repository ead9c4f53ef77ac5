# phase.gp - phase portraits in the (K_a, K_b) plane from `critsim phase` run folders.
#   gnuplot -e "dir='results/phase1'; depths='2 5 8 13'; ttl='...'; out='results/figures/phase_fig1.png'" plots/phase.gp
# Reads dir/dD_early/{field,traj}.dat and dir/dD_late/... for each D in `depths`; top row early deficit,
# bottom row late deficit (the ICLR 2024 Fig. 1 and Fig. 7 layouts).  Purple arrows: deficit-free
# vector field (direction only); black: trajectories; blue: K_a + K_b = s.  Plots only read data.
# ntraj=1 draws the (single) trajectory thicker.  rows='early late none' adds a row of the deficit-free
# control dir/dD_none (the same starts without a gate).
if (!exists("dir")) dir = 'results/phase1'
if (!exists("depths")) depths = '2 5 8 13'
if (!exists("ttl")) ttl = ''
if (!exists("out")) out = 'phase.png'
if (!exists("psz")) psz = 1   # PNG scale (paper/figures use a smaller one)
if (!exists("s")) s = 10
nd = words(depths)
if (!exists("rows")) rows = 'early late'
nr = words(rows)
if (!exists("ntraj")) ntraj = 100
if (!exists("field")) field = 1   # 0: no vector field (smaller PNG, used for paper/figures)
if (out[strlen(out)-2:] eq 'pdf') { set terminal pdfcairo size (3*nd)in,(3*nr)in font "DejaVu Sans,11" } else { set terminal pngcairo size (400*nd)*psz,(410*nr)*psz font "DejaVu Sans,11" fontscale sqrt(psz) linewidth sqrt(psz) }
set output out
set multiplot layout nr,nd title ttl noenhanced
set size ratio -1
set xrange [0:s]
set yrange [0:s]
set xlabel "K_a"
set ylabel "K_b"
unset key
do for [row=1:nr] {
  w = word(rows, row)
  do for [k=1:nd] {
    D = word(depths, k)
    set title (w eq 'none' ? sprintf('D = %s, no deficit (same starts)', D) : sprintf('D = %s, %s deficit', D, w))
    d = sprintf('%s/d%s_%s', dir, D, w)
    if (field) {
      plot d.'/field.dat' u 1:2:5:6 w vectors filled head size screen 0.004,20 lw 0.7 lc rgb '#c0a8e0', \
           s - x w l lw 2 lc rgb '#1f77b4', \
           d.'/traj.dat' u 3:4 w l lw (ntraj > 1 ? 0.8 : 2) lc rgb 'black'
    } else {
      plot s - x w l lw 2 lc rgb '#1f77b4', \
           d.'/traj.dat' u 3:4 w l lw (ntraj > 1 ? 0.8 : 2) lc rgb 'black'
    }
  }
}
unset multiplot
