# recovery.awk - recovery time after a deficit, from a `critsim sweep --full` of critsim flow whose
# deficit ends at a varied step END (END = 0: the deficit-free control).  Pairs every point with the
# control that has the same values of the other varied columns (depth, redundancy, seed, ...) and
# compares their recorded time series:
#   share(t)  share of pathway b summed over the target's modes (modes.dat: sum of K_b over the modes
#             with s > 1e-9 s_0, divided by the sum of K_a + K_b); for a degenerate target (the latent
#             task's k equal singular values) this is the block share, independent of the SVD basis
#   L(t)      test loss (loss.dat)
#   t_share   updates after END until |share(t) - share_0(t)| <= tol_share at every later recorded step
#             (share_0: the control's share at the same step)
#   t_loss    updates after END until L(t) - L_0(t) <= tol_loss * (L(END) - L_0(END)) at every later
#             recorded step (the excess loss the deficit left has fallen below tol_loss of its value)
#   nan       not recovered by the last recorded step; resolution: the sweep's --every.
# Usage (plots/sweep.mk):
#   awk -v S=DIR -v by=end -v tol_share=0.01 -v tol_loss=0.01 -f plots/recovery.awk DIR/grid.dat > DIR/recovery.dat.tmp
# Output: `#` provenance lines, then columns `<other varied columns> END t_share t_loss share_end
# share_final share0_final excess_end excess_final` (excess = L - L_0), one row per point with END > 0.
# A missing or failed point table stops the script (exit 2, one line naming it).
function fail(msg) { printf("critsim: plots/recovery.awk: %s\n", msg) > "/dev/stderr"; err = 1; exit 2 }
# read point ID's share and test loss series into SH[id, k], LO[id, k], ST[id, k] (k = 1..NS[id])
function series(id,    f, line, a, q, n, hdr, c, cs, ck, ca, cb, kb, kt, k, nst, i) {
    f = S "/points/" id "/modes.dat"
    hdr = ""; nst = 0
    while ((r = (getline line < f)) > 0) {
        if (line ~ /^# FAILED/) fail(f " records a failed run: " line)
        if (line ~ /^#/) { hdr = substr(line, 3); continue }
        if (!cs) {
            n = split(hdr, a, " ")
            for (c = 1; c <= n; c++) {
                if (a[c] == "step") ck = c; if (a[c] == "s") cs = c
                if (a[c] == "K_a") ca = c; if (a[c] == "K_b") cb = c
            }
            if (!ck || !cs || !ca || !cb) fail(f ": columns step, s, K_a, K_b not found")
        }
        split(line, a, " ")
        if (!((a[ck] "") in IDX)) { IDX[a[ck] ""] = ++nst; STEP[nst] = a[ck] + 0; SMAX[nst] = 0 }
        k = IDX[a[ck] ""]
        if (a[cs] + 0 > SMAX[k]) SMAX[k] = a[cs] + 0
        ROWS[k] = ROWS[k] " " a[cs] ":" a[ca] ":" a[cb]
    }
    if (r < 0 || nst == 0) fail("cannot read " f " (run the sweep with --full)")
    close(f)
    for (k = 1; k <= nst; k++) {
        n = split(ROWS[k], a, " "); kb = 0; kt = 0
        for (i = 1; i <= n; i++) {
            split(a[i], q, ":")
            if (q[1] + 0 > 1e-9 * SMAX[k]) { kb += q[3]; kt += q[2] + q[3] }
        }
        SH[id, k] = kt != 0 ? kb / kt : "nan"; ST[id, k] = STEP[k]
        delete ROWS[k]
    }
    delete IDX
    f = S "/points/" id "/loss.dat"; k = 0
    while ((r = (getline line < f)) > 0) {
        if (line ~ /^# FAILED/) fail(f " records a failed run: " line)
        if (line ~ /^#/ || line ~ /^[ \t]*$/) continue
        split(line, a, " ")
        k++
        if (a[1] + 0 != ST[id, k]) fail(f ": step " a[1] " does not match modes.dat's " ST[id, k])
        LO[id, k] = a[3] + 0
    }
    if (r < 0 || k != nst) fail("cannot read " f " or its steps differ from modes.dat")
    close(f)
    NS[id] = nst
}
# first recorded step >= e from which cond holds to the end; "nan" if it fails at the last step
function settle(id, id0, e, what, thr,    k, t, ok, d) {
    t = "nan"
    for (k = NS[id]; k >= 1 && ST[id, k] >= e; k--) {
        d = what == "share" ? SH[id, k] - SH[id0, k] : LO[id, k] - LO[id0, k]
        if (what == "share" && d < 0) d = -d
        ok = (d <= thr)
        if (!ok) break
        t = ST[id, k] - e
    }
    return t
}
function at(id, e,    k) { for (k = 1; k <= NS[id]; k++) if (ST[id, k] >= e) return k; fail("point " id ": no step >= " e) }
/^#/ { hdr = substr($0, 3); next }
/^[ \t]*$/ { next }
{
    if (!nc) {
        nc = split(hdr, col, " ")
        for (c = 1; c <= nc; c++) {
            if (col[c] == "id") cid = c
            if (col[c] == by) cby = c
        }
        if (!cid || !cby) fail(FILENAME ": columns id and " by " not found")
    }
    key = ""
    for (c = 1; c <= nc; c++)
        if (col[c] != "index" && col[c] != "id" && col[c] != "deficit" && c != cby) key = key " " $c
    np++; PID[np] = $cid; PKEY[np] = key; PBY[np] = $cby
    if ($cby + 0 == 0) CTRL[key] = $cid
}
END {
    if (err) exit 2
    if (!np) fail("no points in " FILENAME)
    printf("# critsim plots/recovery.awk: recovery.dat\n")
    printf("# sweep: %s (points paired with the control %s = 0 of the same other columns)\n", S, by)
    printf("# share = sum of K_b over the target's modes / sum of K_a + K_b (the block share of a degenerate target)\n")
    printf("# t_share: updates after %s until |share - share_control| <= %g at every later recorded step\n", by, tol_share)
    printf("# t_loss: updates after %s until test_loss - test_loss_control <= %g of its value at %s, at every later recorded step\n", by, tol_loss, by)
    printf("# nan: not recovered by the last recorded step; excess = test_loss - test_loss_control\n")
    h = ""
    for (c = 1; c <= nc; c++)
        if (col[c] != "index" && col[c] != "id" && col[c] != "deficit" && c != cby) h = h col[c] " "
    printf("# %s%s t_share t_loss share_end share_final share0_final excess_end excess_final\n", h, by)
    for (i = 1; i <= np; i++) {
        if (PBY[i] + 0 == 0) continue
        if (!(PKEY[i] in CTRL)) fail("point " PID[i] ": no control with " by " = 0 and the same" PKEY[i])
        id = PID[i]; id0 = CTRL[PKEY[i]]
        if (!(id in NS)) series(id)
        if (!(id0 in NS)) series(id0)
        if (NS[id] != NS[id0]) fail("points " id " and " id0 " recorded different steps")
        e = PBY[i] + 0; ke = at(id, e); n = NS[id]
        ex_e = LO[id, ke] - LO[id0, ke]
        printf("%s %s %s %s %.17g %.17g %.17g %.17g %.17g\n", substr(PKEY[i], 2), PBY[i],
               settle(id, id0, e, "share", tol_share), settle(id, id0, e, "loss", tol_loss * ex_e),
               SH[id, ke], SH[id, n], SH[id0, n], ex_e, LO[id, n] - LO[id0, n])
    }
}
