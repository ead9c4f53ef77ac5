#!/bin/sh
# check_cp_deficits.sh - the effect assertions of the CNN deficit experiment (models/cnn_cp_deficits.ini,
# issue 11 experiment 1), run by `make check-science` on the sweep's summary_seeds.dat (one row per
# deficit: n finished seeds, mean and sample sd over seeds of test_acc).
#
# Each assertion compares the mean final test accuracy of two conditions A, B against the pooled sd
# of the two seed groups, s_p = sqrt((sd_A^2 + sd_B^2) / 2) (equal group sizes):
#   below A B K     mean_A < mean_B - K * s_p          (A is worse than B by more than K pooled sd)
#   within A B K    |mean_A - mean_B| <= K * s_p       (A and B do not differ by more than K pooled sd)
# Only effects that were measured robust across seeds are asserted, with margin K = 2 (a difference
# larger than twice the seed spread); the pilot that fixed this list (3 seeds, the same model file,
# paper section 5) found every asserted difference at 3 pooled sd or more, so a rerun on the same
# build fails only if the effect itself changed.  Every condition used must have all its seeds
# finished (n = SEEDS).  Exit 0 when every assertion holds, 1 when one fails (each failure named on
# stdout), 2 on a missing table, row or column.
#   sh tests/science/check_cp_deficits.sh results/sweep/cnn_cp_deficits/summary_seeds.dat [SEEDS]
f=$1; seeds=${2:-3}
[ -r "$f" ] || { echo "critsim: check_cp_deficits.sh: cannot read '$f' (run the sweep: make check-science)" >&2; exit 2; }
# the assertions (see the header; each line: TEST A B K, then a comment saying what it means)
cat <<'A' | awk -v F="$f" -v seeds="$seeds" '
function fail2(msg) { printf("critsim: check_cp_deficits.sh: %s\n", msg) > "/dev/stderr"; err = 2; exit 2 }
BEGIN {
    while ((r = (getline line < F)) > 0) {
        if (line ~ /^#/) { hdr = substr(line, 2); continue }
        if (line ~ /^[ \t]*$/) continue
        if (!nc) {
            nc = split(hdr, H, " ")
            for (i = 1; i <= nc; i++) C[H[i]] = i
            if (!("deficit" in C) || !("n" in C) || !("test_acc_mean" in C) || !("test_acc_sd" in C))
                fail2(F ": no columns deficit, n, test_acc_mean, test_acc_sd (not the sweep'"'"'s summary_seeds.dat?)")
        }
        split(line, v, " ")
        d = v[C["deficit"]]
        N[d] = v[C["n"]]; M[d] = v[C["test_acc_mean"]]; S[d] = v[C["test_acc_sd"]]
    }
    if (r < 0) fail2("cannot read " F)
    if (!nc) fail2(F " has no data rows")
}
function need(d) {
    if (!(d in N)) fail2("no row " d " in " F)
    if (N[d] != seeds) fail2("row " d " has " N[d] " finished seeds, want " seeds " (failed points: see the summary.dat next to it)")
}
/^[ \t]*(#|$)/ { next }
{
    t = $1; a = $2; b = $3; k = $4 + 0
    need(a); need(b)
    sp = sqrt((S[a] ^ 2 + S[b] ^ 2) / 2); diff = M[a] - M[b]
    if (t == "below") pass = (diff < -k * sp)
    else if (t == "within") pass = (diff <= k * sp && diff >= -k * sp)
    else fail2("unknown test " t)
    printf("%s %-6s %-12s vs %-12s: %.4f vs %.4f, difference %+.4f = %+.2f pooled sd (margin %g)\n",
           pass ? "ok  " : "FAIL", t, a, b, M[a], M[b], diff, sp > 0 ? diff / sp : 0, k)
    if (!pass) nbad++
    ntest++
}
END {
    if (err) exit err
    printf("check_cp_deficits: %d assertions, %d failed\n", ntest, nbad)
    exit nbad ? 1 : 0
}'
# blur: even the shortest deficit costs accuracy, and the loss grows with t0 (pilot: 9.4, 13.2 and
# 20.4 pooled sd)
below  blur:4@0-4   blur:4@0-0    2   # 4 blurred epochs: below the deficit-free 16-epoch run
below  blur:4@0-12  blur:4@0-4    2   # the loss grows with t0
below  blur:4@0-12  blur:4@12-12  2   # t0 = 12: below the deficit-free run of the same 28 epochs
# blur costs more than its negative control, the vertical flip, at every t0 (pilot: 4.6, 5.9, 5.8)
below  blur:4@0-4   flip@0-4      2
below  blur:4@0-8   flip@0-8      2
below  blur:4@0-12  flip@0-12     2
# ... but the flip is not harmless: its loss also grows with t0 (pilot: 5.9 and 8.2 pooled sd).  With
# the learning rate decayed to lr0/40 by t0 = 12 any early deficit is only partly undone, so this
# design does not show a blur-specific critical period (see the paper, section 5)
below  flip@0-12    flip@0-4      2
below  flip@0-12    blur:4@12-12  2
# label permutation: a loss that grows with t0 (pilot: 5.2 at t0 = 4; 4.5 and 5.7 pooled sd at 12),
# smaller than blur's at t0 = 4 and 8 (pilot: 7.1 and 3.8)
below  labels@0-4   blur:4@0-0    2
below  labels@0-12  labels@0-4    2
below  labels@0-12  blur:4@12-12  2
below  blur:4@0-4   labels@0-4    2
below  blur:4@0-8   labels@0-8    2
# noise images: a loss that grows with t0 (pilot: 9.3 pooled sd at t0 = 4; 9.5 and 12.3 at 12)
below  noise@0-4    blur:4@0-0    2
below  noise@0-12   noise@0-4     2
below  noise@0-12   blur:4@12-12  2
# not asserted (not robust in the pilot): blur below labels at t0 = 12 (2.5 pooled sd, the label runs'
# sd is 0.015 there); blur vs noise (blur lower by 1.9 pooled sd at t0 = 4, higher by 1.0 at 8 and 2.3
# at 12: no consistent order)
A
