# cnn_cp_deficits.awk - reshape the seed summary of the deficit sweep (models/cnn_cp_deficits.ini,
# `critsim sweep` -> summary_seeds.dat, one row per deficit with mean and sample sd over seeds) into
# the table the figure plots (plots/cnn_cp_deficits.gp): the deficit KIND[:ARGS]@S-E is split into its
# kind and t0 = E; a window with S = E is empty (no deficit) and becomes kind `none` with t0 = 0;
# `epochs` = E + clean (the run lasts until its window ends, then `clean` clean epochs).  Computes no
# statistics: mean and sd are copied from the sweep's table.
#   awk -v clean=16 -f plots/cnn_cp_deficits.awk DIR/summary_seeds.dat > DIR/curves.dat
# Columns: kind t0 epochs n test_acc_mean test_acc_sd train_acc_mean train_acc_sd final_loss_mean
# final_loss_sd.  A missing column or a malformed deficit exits 2 with one line on stderr.
function fail(msg) { printf("critsim: plots/cnn_cp_deficits.awk: %s\n", msg) > "/dev/stderr"; err = 1; exit 2 }
BEGIN {
    if (clean !~ /^[0-9]+$/) fail("want -v clean=N (the model file's clean-epochs)")
    nout = split("test_acc_mean test_acc_sd train_acc_mean train_acc_sd final_loss_mean final_loss_sd", OUT, " ")
}
/^#/ { hdr = substr($0, 2); prov[++np] = $0; next }
/^[ \t]*$/ { next }
{
    if (!started) {
        started = 1
        nc = split(hdr, H, " ")
        for (i = 1; i <= nc; i++) C[H[i]] = i
        if (!("deficit" in C) || !("n" in C)) fail(FILENAME ": no columns deficit and n (not a sweep's summary_seeds.dat?)")
        for (k = 1; k <= nout; k++) if (!(OUT[k] in C)) fail(FILENAME ": no column " OUT[k])
        printf("# critsim plots/cnn_cp_deficits.awk: curves.dat from %s (clean epochs %d)\n", FILENAME, clean)
        for (i = 1; i < np; i++) print prov[i]
        print "# kind t0 epochs n test_acc_mean test_acc_sd train_acc_mean train_acc_sd final_loss_mean final_loss_sd"
    }
    d = $C["deficit"]
    if (!match(d, /@[0-9]+-[0-9]+$/)) fail("deficit '" d "' is not KIND[:ARGS]@S-E")
    w = substr(d, RSTART + 1); kind = substr(d, 1, RSTART - 1)
    split(w, se, "-"); s = se[1] + 0; e = se[2] + 0
    sub(/:.*/, "", kind)
    t0 = e
    if (s == e) { kind = "none"; t0 = 0 }
    else if (s != 0) fail("deficit '" d "' does not start at epoch 0 (this figure plots windows [0, t0))")
    line = sprintf("%s %d %d %s", kind, t0, e + clean, $C["n"])
    for (k = 1; k <= nout; k++) line = line " " $C[OUT[k]]
    print line
    rows++
}
END {
    if (err) exit 2
    if (!rows) fail("no data rows in the input")
}
