#!/bin/sh
# check_effects.sh - the assertion engine of the science checks (tests/science/check_cp_*.sh; `make
# check-science`): reads a sweep's summary_seeds.dat (one row per condition: n finished seeds, mean and
# sample sd over seeds of test_acc) and the assertions on stdin, one per line:
#   below A B K     mean_A < mean_B - K * s_p          (A is worse than B by more than K pooled sd)
#   within A B K    |mean_A - mean_B| <= K * s_p       (A and B do not differ by more than K pooled sd)
# with the pooled sd of the two seed groups s_p = sqrt((sd_A^2 + sd_B^2) / 2) (equal group sizes), a
# '#' starting a comment.  Every condition used must have all its seeds finished (n = SEEDS).  Prints
# one line per assertion and "NAME: N assertions, M failed"; exit 0 when every assertion holds, 1 when
# one fails, 2 on a missing table, row or column or an unknown test.
#   sh tests/science/check_effects.sh TABLE SEEDS NAME < ASSERTIONS
f=$1; seeds=${2:-3}; name=${3:-check_effects}
[ -r "$f" ] || { echo "critsim: $name: cannot read '$f' (run the sweep: make check-science)" >&2; exit 2; }
awk -v F="$f" -v seeds="$seeds" -v name="$name" '
function fail2(msg) { printf("critsim: %s: %s\n", name, msg) > "/dev/stderr"; err = 2; exit 2 }
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
    printf("%s: %d assertions, %d failed\n", name, ntest, nbad)
    exit nbad ? 1 : 0
}'
