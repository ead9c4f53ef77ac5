# cnn_paired.awk - accuracy lost to a deficit, paired by seed: reads a CNN deficit sweep's summary.dat
# (`critsim sweep`, one row per point: the varied columns, seed, the outcomes, status) and, for every
# deficit and group, compares each seed's final test accuracy with that of the reference condition
# REF (a deficit-free control) of the same seed and group:
#     loss_s = test_acc(REF, s) - test_acc(deficit, s)
# and writes the mean and sample sd over seeds of test_acc, of loss (the paired difference: the seed
# shared by both runs cancels out of it) and of train_acc and final_loss (the last epoch's train
# loss).  The deficit KIND[:ARGS]@S-E is split into kind, S and E (an empty window S = E is kind
# `none`).  Points that failed (status != 0) are left out; n counts the seeds used.
#   awk -v ref='blur:4@0-0' [-v group=depth] -f plots/cnn_paired.awk DIR/summary.dat > DIR/paired.dat
# group: comma-separated varied columns (other than deficit and seed) that split the table (e.g.
# depth, fuse-after); rows of one group are compared with the REF of the same group.
# Columns: GROUP... deficit kind start end n test_acc_mean test_acc_sd loss_mean loss_sd
# train_acc_mean train_acc_sd final_loss_mean final_loss_sd (rows in the order of first appearance;
# the REF row itself has loss 0).  A missing column, a malformed deficit, a group without its REF
# for some seed, or two rows of one deficit, group and seed (a varied column missing from group)
# exits 2 with one line on stderr.
function fail(msg) { printf("critsim: plots/cnn_paired.awk: %s\n", msg) > "/dev/stderr"; err = 1; exit 2 }
function sd(s, s2, n,   v) { if (n < 2) return "nan"; v = (s2 - s * s / n) / (n - 1); return sprintf("%.6f", sqrt(v > 0 ? v : 0)) }
BEGIN {
    if (ref == "") fail("want -v ref=DEFICIT (the control every deficit is compared with)")
    ng = group == "" ? 0 : split(group, G, ",")
}
/^#/ { hdr = substr($0, 2); prov[++np] = $0; next }
/^[ \t]*$/ { next }
{
    if (!nc) {
        nc = split(hdr, H, " ")
        for (i = 1; i <= nc; i++) C[H[i]] = i
        split("deficit seed test_acc train_acc final_loss status", need, " ")
        for (k in need) if (!(need[k] in C)) fail(FILENAME ": no column " need[k] " (not a sweep's summary.dat?)")
        for (k = 1; k <= ng; k++) if (!(G[k] in C)) fail(FILENAME ": no column " G[k] " (-v group)")
    }
    if ($C["status"] != 0) next
    g = ""
    for (k = 1; k <= ng; k++) g = g $C[G[k]] " "
    d = $C["deficit"]; s = $C["seed"]
    if (!match(d, /@[0-9]+-[0-9]+$/)) fail("deficit '" d "' is not KIND[:ARGS]@S-E")
    key = g d
    if (!(key in seen)) { seen[key] = ++nk; K[nk] = key; KG[nk] = g; KD[nk] = d }
    if ((key, s) in ACC) fail("two rows of '" key "' with seed " s ": a varied column is missing from -v group")
    ACC[key, s] = $C["test_acc"]; TRA[key, s] = $C["train_acc"]; FL[key, s] = $C["final_loss"]
    SEEDS[key] = SEEDS[key] " " s
}
END {
    if (err) exit 2
    if (!nk) fail("no finished points in the input")
    printf("# critsim plots/cnn_paired.awk: paired accuracy loss from %s, reference %s%s\n", FILENAME, ref,
           ng ? ", grouped by " group : "")
    for (i = 1; i < np; i++) print prov[i]
    hd = ""
    for (k = 1; k <= ng; k++) hd = hd G[k] " "
    print "# " hd "deficit kind start end n test_acc_mean test_acc_sd loss_mean loss_sd train_acc_mean train_acc_sd final_loss_mean final_loss_sd"
    for (i = 1; i <= nk; i++) {
        key = K[i]; rk = KG[i] ref
        if (!(rk in seen)) fail("group '" KG[i] "' has no reference row " ref)
        d = KD[i]; match(d, /@[0-9]+-[0-9]+$/)
        w = substr(d, RSTART + 1); kind = substr(d, 1, RSTART - 1); sub(/:.*/, "", kind)
        split(w, se, "-")
        if (se[1] + 0 == se[2] + 0) kind = "none"
        n = split(substr(SEEDS[key], 2), S, " ")
        sa = sa2 = sl = sl2 = st = st2 = sf = sf2 = 0
        for (j = 1; j <= n; j++) {
            s = S[j]
            if (!((rk, s) in ACC)) fail("seed " s " of '" key "' has no reference run " ref)
            a = ACC[key, s]; l = ACC[rk, s] - a; t = TRA[key, s]; f = FL[key, s]
            sa += a; sa2 += a * a; sl += l; sl2 += l * l; st += t; st2 += t * t; sf += f; sf2 += f * f
        }
        printf("%s%s %s %d %d %d %.6f %s %.6f %s %.6f %s %.6f %s\n", KG[i], d, kind, se[1], se[2], n,
               sa / n, sd(sa, sa2, n), sl / n, sd(sl, sl2, n), st / n, sd(st, st2, n), sf / n, sd(sf, sf2, n))
    }
}
