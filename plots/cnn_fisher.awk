# cnn_fisher.awk - the Fisher information trace over seeds: reads the fisher.dat of several runs that
# differ only in their seed (critsim cnn --fisher-every K; e.g. the points of models/cnn_cp_fisher.ini
# swept with --full) and writes, for every epoch that all of them have, the mean and sample sd over
# runs of the column `total` (the trace summed over layers).
#   awk -f plots/cnn_fisher.awk DIR/points/*/fisher.dat > DIR/fisher_seeds.dat
# Columns: epoch n total_mean total_sd.  A file without the columns epoch and total, or a table that
# ends with a FAILED line, exits 2 with one line on stderr.
function fail(msg) { printf("critsim: plots/cnn_fisher.awk: %s\n", msg) > "/dev/stderr"; err = 1; exit 2 }
FNR == 1 { nf++; ce = ct = 0; files = files " " FILENAME }
/^# FAILED/ { fail(FILENAME ": the run failed (" $0 ")") }
/^#/ { hdr = substr($0, 2); if (nf == 1) prov[++np] = $0; next }
/^[ \t]*$/ { next }
{
    if (!ce) {
        n = split(hdr, H, " ")
        for (i = 1; i <= n; i++) { if (H[i] == "epoch") ce = i; if (H[i] == "total") ct = i }
        if (!ce || !ct) fail(FILENAME ": no columns epoch and total (not a fisher.dat?)")
    }
    e = $ce + 0
    if (!(e in N)) E[++ne] = e
    N[e]++; S[e] += $ct; S2[e] += $ct * $ct
}
END {
    if (err) exit 2
    if (!ne) fail("no data rows in the input")
    printf("# critsim plots/cnn_fisher.awk: Fisher trace over %d runs:%s\n", nf, files)
    for (i = 1; i < np; i++) print prov[i]
    print "# epoch n total_mean total_sd"
    for (i = 1; i <= ne; i++) {
        e = E[i]
        if (N[e] != nf) continue
        m = S[e] / N[e]; v = N[e] > 1 ? (S2[e] - S[e] * S[e] / N[e]) / (N[e] - 1) : -1
        printf("%d %d %.6g %s\n", e, N[e], m, v < 0 && N[e] < 2 ? "nan" : sprintf("%.6g", sqrt(v > 0 ? v : 0)))
    }
}
