#!/bin/sh
# test_cli_plots.sh - the figure scripts never hand a file name to a shell (issue "hardening"): a results
# folder whose path holds quotes and command payloads ($(...), `...`, ;) is drawn by
# every plots/*.gp without running anything, and make refuses such a path with one clear line.
#  1. No plots/*.gp uses system(), backquotes, a "< cmd" or "| cmd" file name, `!` or `shell`, and no
#     plots/*.awk or paper/*.awk uses system() or a pipe: each script reads its tables with gnuplot's or
#     awk's own input (stats, `with table if`, getline < file).
#  2. Every plots/*.gp draws a figure from small fixture tables under the hostile folder (real `critsim
#     flow` + `analyze` output for svd/share/rsv, hand-made tables with the real column names for the
#     rest; a new script needs its fixture here), passed in gnuplot's own quoting ('' for a quote);
#     afterwards no PWNED file exists anywhere.
#  3. make refuses RESULTS, BIN, BUILD or a goal that holds such characters (exit 2, one line naming the
#     variable) before any recipe runs; plain paths pass, and `make -n figures` / `make -n paper` resolve.
# A few seconds (one gnuplot run per script, one tiny flow run, a few make -n).
. tests/lib.sh
ROOT=$(pwd)

# ---- 1. no shell in the scripts ---------------------------------------------------------------------
for g in plots/*.gp; do
  # comment lines may mention anything; code lines may not reach a shell
  hits=$(grep -vE '^[[:space:]]*#' "$g" | grep -E '\bsystem\b|`|^[[:space:]]*!|^[[:space:]]*shell\b')
  # a string literal ("..." or '...' with '' inside) that starts with < or | is a pipe as a file name
  pipes=$(grep -vE '^[[:space:]]*#' "$g" | grep -oE '"([^"\\]|\\.)*"|'\''([^'\'']|'\'\'')*'\''' | grep -E '^.[[:space:]]*[<|]')
  [ -z "$hits$pipes" ] && ok || bad "$g reaches a shell (system, \`, \"< cmd\", \"| cmd\", ! or shell): $hits $pipes"
done
for a in plots/*.awk paper/*.awk; do
  # string literals removed first ("|" as a split separator is no pipe)
  hits=$(sed -E 's/"([^"\\]|\\.)*"//g' "$a" | grep -nE '\bsystem[[:space:]]*\(|\|[[:space:]]*getline|\|&|(^|[;{[:space:]])printf?\b[^|]*[^|]\|[^|]' | grep -vE '^[0-9]+:[[:space:]]*#')
  [ -z "$hits" ] && ok || bad "$a reaches a shell (system() or a pipe): $hits"
done

# ---- 2. every script on a hostile path ----------------------------------------------------------------
# the quotes are balanced so that a shell that received the name inside '...' would run every payload
H="$TMP/res'\"dq\" \$(touch PWNED1) \`touch PWNED2\`;touch PWNED3;'x"
mkdir -p "$H" "$TMP/cwd"
# gq STRING: STRING inside gnuplot's single quotes ('' stands for ')
gq() { printf '%s' "$1" | sed "s/'/''/g"; }
Q=$(gq "$H")
if ! command -v gnuplot >/dev/null 2>&1; then
  echo "test_cli_plots: gnuplot missing (apt-get install gnuplot-nox); the figure checks are skipped"
else
  # one summary-like table with every column the sweep scripts read (their real names), rows over
  # depth 1-8 x END 0/150/1000/2000 x onset 0/400/750 x act relu/tanh; values in the scripts' ranges
  awk 'BEGIN {
    print "# critsim fixture: summary.dat (a provenance line first, the column names last)"
    h = "# deficit act depth end onset seed redundancy"
    for (m = 0; m < 8; m++) h = h " share_b_m" m
    h = h " share_b_m2_3 share_b_m4_7 share_b_m0_3 test_loss test_acc t_share t_loss"
    split("m0 m1 m2_3 m4_7", nl, " "); for (k = 1; k <= 4; k++) h = h " share_b_" nl[k] "_mean share_b_" nl[k] "_sd"
    print h " status"
    split("0 150 1000 2000", E, " "); split("0 400 750", O, " "); split("0.5 0.8 0.9", RH, " ")
    r = 0
    for (d = 1; d <= 8; d++) for (e = 1; e <= 4; e++) for (o = 1; o <= 3; o++) for (a = 0; a < 2; a++) {
      v = 0.05 * ((d + e + o + a) % 9); line = (a ? "gate:b@0-200+lesion:a:1@0-1000 tanh" : "gate:b@0-200 relu")
      line = line " " d " " E[e] " " O[o] " " (r % 5) + 1 " " RH[o]
      for (m = 0; m < 10; m++) line = line " " v + 0.01 * m
      line = line " " v " " 0.01 + v / 10 " " 0.8 + v / 5 " " 100 * (d + a) " " 50 * (e + o)
      for (k = 1; k <= 4; k++) line = line " " v + 0.02 * k " 0.01"
      print line " 0"; r++
    } }' >"$H/summary.dat"
  # the CNN deficit figure's curves.dat
  { echo "# critsim fixture: curves.dat"; echo "# kind t0 epochs n test_acc_mean test_acc_sd"
    echo "none 0 16 3 0.85 0.004"; echo "none 0 28 3 0.86 0.004"
    for k in blur flip labels noise; do for t in 4 8 12; do echo "$k $t $((t + 16)) 3 0.8$t 0.005"; done; done
  } >"$H/curves.dat"
  # plots/cnn_paired.awk's paired.dat: [GROUP] deficit kind start end n test_acc_mean test_acc_sd
  # loss_mean loss_sd ... (paired FILE [GROUP VALUES...]) and plots/cnn_fisher.awk's fisher_seeds.dat
  paired() {
    f=$1; shift
    awk -v groups="$*" 'BEGIN { ng = split(groups, G, " "); if (ng == 0) { ng = 1; G[1] = "" }
      print "# critsim fixture: paired.dat"
      print "# " (groups == "" ? "" : "depth ") "deficit kind start end n test_acc_mean test_acc_sd loss_mean loss_sd train_acc_mean train_acc_sd final_loss_mean final_loss_sd"
      nd = split("blur:4@0-0 none 0 0|blur:4@0-6 blur 0 6|blur:4@0-12 blur 0 12|flip@0-12 flip 0 12|blur:4@12-12 none 12 12|blur:4@4-8 blur 4 8|flip@0-4 flip 0 4", D, "|")
      for (g = 1; g <= ng; g++) for (k = 1; k <= nd; k++)
        print (G[g] == "" ? "" : G[g] " ") D[k], 3, 0.85 - 0.01 * k, 0.004, 0.01 * k, 0.003, 0.9, 0.01, 0.3, 0.01 }' >"$f"
  }
  paired "$H/paired.dat"; paired "$H/paired_depth.dat" 1 2 3; paired "$H/paired_split.dat" 0 1 2
  { echo "# critsim fixture: fisher_seeds.dat"; echo "# epoch n total_mean total_sd"
    for e in 0 1 2 3 4 5 6 7 8 9 10; do echo "$e 3 $((100 - 5 * e)) 2"; done; } >"$H/fisher_seeds.dat"
  # plots/cnn_inh.awk's tables (fixed columns: 1 fuse 2 def 3 kind 4 S 5 E 6 L, then final.dat 7 epochs
  # 8 n 9-36 mean/sd pairs; epochs.dat 7 epoch 8 n 9-24; rsv.dat 7 epoch 8 bin 9 lo 10 hi 11 count 12 frac)
  inh() {
    awk -v t="$2" 'BEGIN {
      print "# critsim fixture: plots/cnn_inh.awk " t ".dat"
      print "# fuse def kind S E L " (t == "final" ? "epochs n ..." : t == "epochs" ? "epoch n ..." : "epoch bin lo hi count frac")
      nc = split("remove:b blur:b:4 dissociate", DEF, " ")
      for (fu = 0; fu < 3; fu++) for (dd = 1; dd <= nc; dd++) for (c = 1; c <= 8; c++) {
        if (c <= 3) { k = "early"; L = 2 ^ c; S = 0; E = L } else if (c <= 6) { k = "late"; L = 2 ^ (c - 3); S = 12; E = 12 + L }
        else { k = "none"; L = 0; S = E = (c == 7 ? 0 : 20) }
        key = fu " " DEF[dd] " " k " " S " " E " " L; m = 0.3 + 0.05 * L + 0.01 * fu
        if (t == "final") { l = key " " E + 12 " 3"; for (j = 9; j <= 36; j += 2) l = l " " m " 0.01"; print l }
        else if (t == "epochs") for (e = 0; e <= E + 12; e += 2) { l = key " " e " 3"; for (j = 9; j <= 24; j += 2) l = l " " m + e / 100 " 0.01"; print l }
        else { split(L " " L + 12 " " E " " E + 12, EP, " "); delete seen
          for (q = 1; q <= 4; q++) if (!(EP[q] in seen)) { seen[EP[q]]; for (b = 0; b < 39; b++)
            print key, EP[q], b, -1.15 + b * 2.3 / 39, -1.15 + (b + 1) * 2.3 / 39, b % 7, (b % 7) / 100 } } } }' >"$1"
  }
  inh "$H/inh_final.dat" final; inh "$H/inh_epochs.dat" epochs; inh "$H/inh_rsv.dat" rsv
  # cp_end's summary.dat by column position (1 depth 2 deficit 3 end 4 final_loss 5 share_b_m0 ... 29
  # loss_without_a 30 loss_without_b)
  awk 'BEGIN { print "# critsim fixture: cp_end summary.dat by position"; print "# depth deficit end final_loss share_b_m0 ... loss_without_a loss_without_b"
    for (d = 1; d <= 8; d *= 2) for (e = 0; e <= 400; e += 50) { l = d " gate:b@0-" e " " e; for (j = 4; j <= 30; j++) l = l " " 0.05 * d + e / 2000; print l } }' >"$H/lin.dat"
  # modes.dat of flow (step mode s K_a K_b, step-major, 8 modes)
  modes() {
    mkdir -p "$1"
    awk 'BEGIN { print "# step mode s K_a K_b"
      for (t = 0; t <= 1000; t += 50) for (m = 0; m < 8; m++) printf "%d %d %g %g %g\n", t, m, 4 - m / 2, (4 - m / 2) * t / 1200, (4 - m / 2) * t / 2400 }' >"$1/modes.dat"
  }
  modes "$H/flow3"; for w in early middle late; do modes "$H/flow2/$w"; modes "$H/hl/d4/$w"; done
  for w in early middle late; do
    awk 'BEGIN { print "# depth share_b_m0 .. share_b_m7"; for (d = 1; d <= 6; d++) { l = d; for (m = 0; m < 8; m++) l = l " " 0.05 * ((d + m) % 10); print l } }' >"$H/hl/share_$w.dat"
  done
  # matrix completion: switch_sweep.dat (switch step .. .. test loss) and sv.dat (10 rows per step)
  sv() { mkdir -p "$1"; awk -v t0="$2" -v t1="$3" 'BEGIN { print "# step rank index sigma"
    for (t = t0; t <= t1; t += 500) for (i = 0; i < 10; i++) printf "%d 10 %d %g\n", t, i, 0.01 + (10 - i) * t / 5000 }' >"$1/sv.dat"; }
  for d in d1 d2 d3 d3_r2 d3_m1000; do
    mkdir -p "$H/mc/$d"
    { echo "# switch_step steps final_train_loss final_test_loss"; for t in 1001 2001 4001; do echo "$t 30000 0.001 0.0$((t / 1000))"; done; } >"$H/mc/$d/switch_sweep.dat"
    sv "$H/mc/$d" 0 4000; sv "$H/mc/$d/switch_1001" 1001 31000; sv "$H/mc/$d/switch_2001" 2001 32000
  done
  # phase portraits: field.dat (K_a K_b .. .. dK_a dK_b) and traj.dat (.. .. K_a K_b)
  for D in 2 3; do for w in early late; do
    mkdir -p "$H/ph/d${D}_$w"
    awk 'BEGIN { print "# K_a K_b dK_a dK_b ua ub"; for (a = 0; a <= 10; a += 2) for (b = 0; b <= 10; b += 2) print a, b, 0.1, 0.1, 0.1, 0.1 }' >"$H/ph/d${D}_$w/field.dat"
    awk 'BEGIN { print "# traj step K_a K_b"; for (t = 0; t <= 20; t++) print 0, t, t / 3, t / 4 }' >"$H/ph/d${D}_$w/traj.dat"
  done; done
  # svd/share/rsv: a real (tiny) fused run and its analysis, written into the hostile folder
  expect_exit 0 "flow into the hostile folder" $CS flow --arch fused --task latent --depth 2 --init-scale 0.01 \
    --steps 60 --every 20 --deficit remove:b@0-20 --out "$H/run"
  expect_exit 0 "analyze the hostile folder" $CS analyze --run "$H/run"

  n=0
  for g in plots/*.gp; do
    s=$(basename "$g" .gp); out="$H/fig_$s.png"; o=$(gq "$out")
    case $s in
      cnn) v="f1='$Q/summary.dat'; f2='$Q/summary.dat'" ;;
      cnn_cp_deficits) v="f='$Q/curves.dat'; clean=16" ;;
      cnn_cp_depth) v="fd='$Q/paired_depth.dat'; f2='$Q/paired.dat'; fs='$Q/paired_split.dat'" ;;
      cnn_cp_restart) v="f1='$Q/paired.dat'; f2='$Q/paired.dat'" ;;
      cnn_cp_window) v="f='$Q/paired.dat'; ff='$Q/fisher_seeds.dat'" ;;
      cnn_inh) v="fin='$Q/inh_final.dat'; ep='$Q/inh_epochs.dat'; rsv='$Q/inh_rsv.dat'; bfin='$Q/inh_final.dat'; brsv='$Q/inh_rsv.dat'" ;;
      cnn_inh_restart) v="fin='$Q/inh_final.dat'; ep='$Q/inh_epochs.dat'; nfin='$Q/inh_final.dat'; lin='$Q/lin.dat'" ;;
      cnn_inh_theory) v="dfin='$Q/inh_final.dat'; sfin='$Q/inh_final.dat'; lin='$Q/lin.dat'" ;;
      cp_act) v="f='$Q/summary.dat'; g='$Q/summary.dat'" ;;
      cp_end|cp_gate|cp_generic|cp_latent|cp_latent_recovery|cp_lesion|cp_onset) v="f='$Q/summary.dat'" ;;
      flow_fig3) v="dir='$Q/flow3'" ;;
      flow_modes) v="dir='$Q/flow2'" ;;
      headline) v="dir='$Q/hl'; outdir='$Q'; fmt='png'"; out="$H/headline_fig2.png" ;;
      mc|mc_sv) v="dir='$Q/mc'; tcs='1000 2000'" ;;
      mc_factors) v="dir='$Q/mc'" ;;
      phase) v="dir='$Q/ph'; depths='2 3'; ttl='$Q'" ;;
      rsv|share|svd) v="run='$Q/run'" ;;
      *) bad "$g has no fixture in tests/test_cli_plots.sh: add its tables there (the hostile-path check must cover every script)"; continue ;;
    esac
    rm -f "$out"
    (cd "$TMP/cwd" && gnuplot -e "$v; out='$o'" "$ROOT/$g") >"$TMP/gp.out" 2>&1; rc=$?
    if [ "$rc" -ne 0 ]; then bad "$g on the hostile folder: exit $rc: $(head -c 400 "$TMP/gp.out")"; continue; fi
    if [ -s "$TMP/gp.out" ]; then bad "$g printed: $(head -c 400 "$TMP/gp.out")"; continue; fi
    # a PNG starts with \211PNG
    [ "$(head -c 4 "$out" 2>/dev/null | tail -c 3)" = PNG ] && ok || bad "$g: no PNG at the hostile path"
    n=$((n + 1))
  done
  [ "$n" -eq "$(ls plots/*.gp | wc -l)" ] && [ "$n" -ge 20 ] && ok || bad "only $n scripts drew their figure (want every plots/*.gp)"
  # the analysis pictures also from a folder named plainly (the same script text)
  expect_exit 0 "svd.gp, plain path" gnuplot -e "run='$(gq "$H/run")'; out='$TMP/svd.png'; nsv=2; dlo=0; dhi=20" plots/svd.gp
fi
left=$(find "$TMP" "$ROOT" -maxdepth 3 -name 'PWNED*' 2>/dev/null)
[ -z "$left" ] && ok || bad "a command ran: $left"

# ---- 3. make refuses paths it would hand to the shell unquoted -------------------------------------------
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -n "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?; }
for var in RESULTS BIN BUILD; do
  mk "$var=$H" figures
  if [ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "critsim: $var '.*' is not a plain path" "$TMP/err"; then ok
  else bad "make $var=<hostile> figures: exit $rc, stderr: $(head -c 300 "$TMP/err")"; fi
done
mk "$H/run/fig_svd.png"
[ "$rc" -eq 2 ] && grep -q "critsim: target '.*' is not a plain path" "$TMP/err" && ok || bad "make <hostile>/fig_svd.png: exit $rc: $(head -c 300 "$TMP/err")"
for p in "" "-rf" "a b" "x;y" "x\`y\`"; do
  mk "RESULTS=$p" figures
  [ "$rc" -eq 2 ] && grep -q "critsim: RESULTS" "$TMP/err" && ok || bad "make RESULTS='$p': exit $rc, want a refusal"
done
# every figure and the paper resolve their prerequisites (a fragment that names another fragment's
# variable in a prerequisite sees it empty: make reads plots/*.mk in name order)
for goal in figures paper; do
  mk "RESULTS=$TMP/dry" "$goal"
  [ "$rc" -eq 0 ] && ok || bad "make -n $goal: exit $rc: $(tail -n 1 "$TMP/err")"
done
# plain paths pass: letters, digits and . _ / + , @ -
mkdir -p "$TMP/plain-1/run/snap"; : >"$TMP/plain-1/run/snap/index.dat"
mk RESULTS=results-fig/a_b.c+d,e@f "$TMP/plain-1/run/fig_svd.png"
[ "$rc" -eq 0 ] && grep -q "gnuplot -e \"run='$TMP/plain-1/run'" "$TMP/out" && ok || bad "make on plain paths: exit $rc: $(head -c 300 "$TMP/err")"
left=$(find "$TMP" "$ROOT" -maxdepth 3 -name 'PWNED*' 2>/dev/null)
[ -z "$left" ] && ok || bad "a command ran: $left"
done_checks test_cli_plots
