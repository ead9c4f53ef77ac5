#!/bin/sh
# check_inh.sh - the effect assertions of the multisensory-inhibition experiments (models/cnn_inh_*.ini,
# issue 11 experiments 4 and 6), run by `make check-science` on plots/cnn_inh.awk's final.dat of a
# sweep (one row per condition: fuse def kind S E L epochs n, then NAME_mean NAME_sd over seeds).
#
# Each assertion names two conditions DEF:KIND:L (e.g. remove:b:early:8) and a figure NAME (acc_b =
# b-alone test accuracy, test_acc = joint), and compares their means against the pooled seed sd
# s_p = sqrt((sd_A^2 + sd_B^2) / 2) (equal group sizes):
#   below A B NAME K    mean_A < mean_B - K * s_p
#   within A B NAME K   |mean_A - mean_B| <= K * s_p
# Only effects measured robust across seeds are asserted (margins in the assertion lists, with the
# measured size in pooled sd beside each).  Every condition used must have all its seeds (n = SEEDS).
# Exit 0 when every assertion holds, 1 when one fails (named on stdout), 2 on a missing table, row or
# column.
#   sh tests/science/check_inh.sh FINAL.dat ASSERTIONS [SEEDS]     (ASSERTIONS: a file, or - for stdin)
f=$1; list=$2; seeds=${3:-3}
[ -r "$f" ] || { echo "critsim: check_inh.sh: cannot read '$f' (run the sweep: make check-science)" >&2; exit 2; }
[ -n "$list" ] || { echo "critsim: check_inh.sh: usage: check_inh.sh FINAL.dat ASSERTIONS [SEEDS]" >&2; exit 2; }
awk -v F="$f" -v seeds="$seeds" '
function fail2(msg) { printf("critsim: check_inh.sh: %s\n", msg) > "/dev/stderr"; err = 2; exit 2 }
BEGIN {
    while ((r = (getline line < F)) > 0) {
        if (line ~ /^#/) { hdr = substr(line, 3); continue }
        if (line ~ /^[ \t]*$/) continue
        if (!nc) {
            nc = split(hdr, H, " ")
            for (i = 1; i <= nc; i++) C[H[i]] = i
            if (!("def" in C) || !("kind" in C) || !("L" in C) || !("n" in C))
                fail2(F ": no columns def kind L n (not plots/cnn_inh.awk'"'"'s final.dat?)")
        }
        split(line, v, " ")
        k = v[C["def"]] ":" v[C["kind"]] ":" v[C["L"]]
        if (k in ROW) continue  # the first row of a condition (one fusion depth per table)
        ROW[k] = line
    }
    if (r < 0) fail2("cannot read " F)
    if (!nc) fail2(F " has no data rows")
}
function get(k, name, what,    v) {
    if (!(k in ROW)) fail2("no condition " k " in " F)
    if (!((name "_mean") in C)) fail2(F ": no column " name "_mean")
    split(ROW[k], v, " ")
    if (v[C["n"]] != seeds) fail2("condition " k " has " v[C["n"]] " seeds, want " seeds)
    return v[C[name "_" what]] + 0
}
/^[ \t]*(#|$)/ { next }
{
    t = $1; a = $2; b = $3; nm = $4; kk = $5 + 0
    ma = get(a, nm, "mean"); mb = get(b, nm, "mean"); sa = get(a, nm, "sd"); sb = get(b, nm, "sd")
    sp = sqrt((sa ^ 2 + sb ^ 2) / 2); diff = ma - mb
    if (t == "below") pass = (diff < -kk * sp)
    else if (t == "within") pass = (diff <= kk * sp && diff >= -kk * sp)
    else fail2("unknown test " t)
    printf("%s %-6s %-20s vs %-20s %-8s: %.4f vs %.4f, difference %+.4f = %+.2f pooled sd (margin %g)\n",
           pass ? "ok  " : "FAIL", t, a, b, nm, ma, mb, diff, sp > 0 ? diff / sp : 0, kk)
    if (!pass) nbad++
    ntest++
}
END {
    if (err) exit err
    if (!ntest) fail2("no assertions given")
    printf("check_inh: %d assertions, %d failed\n", ntest, nbad)
    exit nbad ? 1 : 0
}' "$list"
