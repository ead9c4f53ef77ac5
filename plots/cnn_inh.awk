# cnn_inh.awk - the tables of the multisensory-inhibition figures (models/cnn_inh_*.ini, issue 11
# experiments 4, 6 and 7), built from a `critsim sweep` folder whose points kept their full tables
# (`full = true`): the grid (grid.dat: index id [fuse-after] deficit seed), each point's epochs.dat
# and, after `critsim analyze` on the point, its svd.dat and rsv_hist.dat.
#
# A condition is a (fuse-after, deficit) pair; the deficit KIND[:ARGS]@S-E (def = KIND[:ARGS]) is an
# early window (S = 0 < E), a late one (0 < S < E) or none (S = E: an empty window, a deficit-free
# run); L = E - S is its length.  Statistics over the seeds of a condition: mean and sample sd (n - 1; nan for n < 2).
# The Jacobian share of b of a snapshot is E_b / (E_a + E_b) with E_P = sum of the squared singular
# values of source P's map (svd.dat; = the squared Frobenius norm of the map of the logits w.r.t.
# source P's pixels, basis-free).
#
#   awk -v dir=SWEEP -v what=final [-v fuse=1] [-v ctrl=DEFICIT] -f plots/cnn_inh.awk SWEEP/grid.dat
#       one row per condition: fuse def kind S E L epochs n, then NAME_mean NAME_sd for test_acc acc_a
#       acc_b info_a info_b train_acc train_loss jshare_b (the last epoch); with ctrl, the same
#       figures of the run with deficit CTRL (an empty window: deficit-free) at the same epoch
#       (ctrl_test_acc, ctrl_acc_b, ctrl_info_b, ctrl_jshare_b: its epochs.dat row; jshare nan when
#       that epoch has no snapshot), and the paired per-seed differences d_acc_b = acc_b - ctrl_acc_b
#       and d_test_acc = test_acc - ctrl_test_acc (mean, sd over seeds).
#   awk -v dir=SWEEP -v what=epochs ...   one row per condition and epoch
#       (fuse def kind S E L epoch n) and the same mean/sd columns per epoch (jshare_b at snapshot epochs, else nan); conditions
#       separated by two blank lines (gnuplot index).
#   awk -v dir=SWEEP -v what=rsv ...      one row per condition, snapshot epoch and RSV bin: fuse def
#       kind S E L epoch bin lo hi count (summed over seeds) frac (count / all units of that condition and
#       epoch); blocks separated by two blank lines.
# fuse (default "-") names the fusion depth when the grid has no fuse-after axis.  Missing files or
# columns exit 2 with one line on stderr.  Reads only; writes stdout.
function fail(msg) { printf("critsim: plots/cnn_inh.awk: %s\n", msg) > "/dev/stderr"; err = 1; exit 2 }
function colmap(hdr, C,    n, H, i) { delete C; n = split(hdr, H, " "); for (i = 1; i <= n; i++) C[H[i]] = i; return n }
function stat(sum, sq, n) { M = n ? sum / n : "nan"; S = n > 1 ? sq / (n - 1) - sum * sum / (n * (n - 1)) : -1; S = S < 0 ? (n > 1 ? 0 : "nan") : sqrt(S) }
function fmt(sum, sq, n) { stat(sum, sq, n); return (M == "nan" ? "nan" : sprintf("%.6g", M)) " " (S == "nan" ? "nan" : sprintf("%.6g", S)) }
# read a point's epochs.dat into EP[id, epoch, name]; returns the last epoch
function read_epochs(id,    f, line, hdr, C, v, last, r, e) {
    f = dir "/points/" id "/epochs.dat"; last = -1; hdr = ""
    while ((r = (getline line < f)) > 0) {
        if (line ~ /^#/) { hdr = substr(line, 3); continue }
        if (line ~ /^[ \t]*$/) continue
        if (!("test_acc_b" in C)) { colmap(hdr, C); if (!("test_acc_b" in C)) fail(f ": no column test_acc_b (not a two-source cnn run?)") }
        split(line, v, " ")
        e = v[C["epoch"]] + 0
        EP[id, e, "test_acc"] = v[C["test_acc"]]; EP[id, e, "acc_a"] = v[C["test_acc_a"]]
        EP[id, e, "acc_b"] = v[C["test_acc_b"]]; EP[id, e, "info_a"] = v[C["info_a"]]
        EP[id, e, "info_b"] = v[C["info_b"]]; EP[id, e, "train_acc"] = v[C["train_acc"]]
        EP[id, e, "train_loss"] = v[C["train_loss"]]
        last = e
    }
    if (r < 0) fail("cannot read " f " (run the sweep with full = true)")
    close(f)
    if (last < 0) fail(f " has no rows")
    return last
}
# the snapshot epochs (snap/index.dat) and svd.dat of a point -> JS[id, epoch] = Jacobian share of b
function read_share(id,    f, line, hdr, C, v, r, ep, st, Ea, Eb, s) {
    f = dir "/points/" id "/snap/index.dat"
    while ((r = (getline line < f)) > 0) {
        if (line ~ /^#/ || line ~ /^[ \t]*$/) continue
        split(line, v, " "); ep[v[2]] = v[3] + 0
    }
    if (r < 0) fail("cannot read " f)
    close(f)
    f = dir "/points/" id "/svd.dat"
    while ((r = (getline line < f)) > 0) {
        if (line ~ /^#/) { hdr = substr(line, 3); continue }
        if (line ~ /^[ \t]*$/) continue
        if (!("sigma" in C)) { colmap(hdr, C); if (!("sigma" in C) || !("source" in C)) fail(f ": no columns step source sigma") }
        split(line, v, " ")
        st = v[C["step"]]; s = v[C["sigma"]] + 0
        if (v[C["source"]] == "a") Ea[st] += s * s
        else if (v[C["source"]] == "b") Eb[st] += s * s
    }
    if (r < 0) fail("cannot read " f " (run critsim analyze on the point first)")
    close(f)
    for (st in Ea) {
        if (!(st in ep)) fail(f ": step " st " is not in snap/index.dat")
        JS[id, ep[st]] = Ea[st] + Eb[st] > 0 ? Eb[st] / (Ea[st] + Eb[st]) : "nan"
    }
}
function read_rsv(id, cond,    f, line, hdr, C, v, r, ep, e, key) {
    f = dir "/points/" id "/snap/index.dat"
    while ((r = (getline line < f)) > 0) {
        if (line ~ /^#/ || line ~ /^[ \t]*$/) continue
        split(line, v, " "); ep[v[2]] = v[3] + 0
    }
    close(f)
    f = dir "/points/" id "/rsv_hist.dat"
    while ((r = (getline line < f)) > 0) {
        if (line ~ /^#/) { hdr = substr(line, 3); continue }
        if (line ~ /^[ \t]*$/) continue
        if (!("count" in C)) { colmap(hdr, C); if (!("count" in C) || !("bin" in C)) fail(f ": no columns step bin lo hi count") }
        split(line, v, " ")
        e = ep[v[C["step"]]]
        key = cond SUBSEP e
        if (!(key in RE)) { RE[key] = 1; NRE[cond]++; REL[cond, NRE[cond]] = e }
        RC[cond, e, v[C["bin"]]] += v[C["count"]]; RT[cond, e] += v[C["count"]]
        RLO[v[C["bin"]]] = v[C["lo"]]; RHI[v[C["bin"]]] = v[C["hi"]]; if (v[C["bin"]] + 1 > NB) NB = v[C["bin"]] + 1
    }
    if (r < 0) fail("cannot read " f " (run critsim analyze on the point first)")
    close(f)
}
BEGIN {
    if (dir == "") fail("want -v dir=SWEEP (the sweep folder)")
    if (what != "final" && what != "epochs" && what != "rsv") fail("want -v what=final|epochs|rsv")
    if (fuse == "") fuse = "-"
    NAMES = "test_acc acc_a acc_b info_a info_b train_acc train_loss jshare_b"; nn = split(NAMES, NM, " ")
}
/^#/ { hdr = substr($0, 3); prov[++np] = $0; next }
/^[ \t]*$/ { next }
{
    if (!nc) { nc = colmap(hdr, G); if (!("id" in G) || !("deficit" in G) || !("seed" in G)) fail(FILENAME ": no columns id deficit seed (not a sweep's grid.dat?)") }
    id = $G["id"]; d = $G["deficit"]; fa = ("fuse-after" in G) ? $G["fuse-after"] : fuse
    if (!match(d, /@[0-9]+-[0-9]+$/)) fail("deficit '" d "' is not KIND[:ARGS]@S-E")
    w = substr(d, RSTART + 1); split(w, se, "-"); s = se[1] + 0; e = se[2] + 0
    kind = s == e ? "none" : (s == 0 ? "early" : "late"); dn = substr(d, 1, index(d, "@") - 1)
    cond = fa SUBSEP d
    if (!(cond in CI)) { CI[cond] = ++ncond; CL[ncond] = cond; CK[cond] = fa " " dn " " kind " " s " " e " " e - s; CD[cond] = d; CF[cond] = fa }
    NS[cond]++; PID[cond, NS[cond]] = id; SEED[cond, NS[cond]] = $G["seed"]
    LAST[id] = read_epochs(id)
    if (what != "rsv") read_share(id); else read_rsv(id, cond)
}
END {
    if (err) exit 2
    if (!ncond) fail("no points in the grid")
    printf("# critsim plots/cnn_inh.awk (what=%s) from %s/grid.dat%s\n", what, dir, ctrl != "" ? ", control " ctrl : "")
    for (i = 1; i <= np - 1; i++) print prov[i]
    if (what == "rsv") {
        print "# fuse def kind S E L epoch bin lo hi count frac"
        for (c = 1; c <= ncond; c++) {
            cond = CL[c]
            for (k = 1; k <= NRE[cond]; k++) {
                e = REL[cond, k]
                for (b = 0; b < NB; b++)
                    printf("%s %d %s %s %d %.6g\n", CK[cond], e, b " " RLO[b], RHI[b], RC[cond, e, b], RT[cond, e] ? RC[cond, e, b] / RT[cond, e] : 0)
                printf("\n\n")
            }
        }
        exit 0
    }
    if (ctrl != "") {
        cc = ""
        for (c = 1; c <= ncond; c++) if (CD[CL[c]] == ctrl) cc = cc == "" ? CL[c] : cc
        if (cc == "") fail("no condition with deficit " ctrl " in the grid")
    }
    cols = "fuse def kind S E L " (what == "final" ? "epochs" : "epoch") " n"
    for (k = 1; k <= nn; k++) cols = cols " " NM[k] "_mean " NM[k] "_sd"
    if (what == "final" && ctrl != "")
        cols = cols " ctrl_test_acc_mean ctrl_test_acc_sd ctrl_acc_b_mean ctrl_acc_b_sd ctrl_info_b_mean ctrl_info_b_sd ctrl_jshare_b_mean ctrl_jshare_b_sd d_test_acc_mean d_test_acc_sd d_acc_b_mean d_acc_b_sd"
    print "# " cols
    for (c = 1; c <= ncond; c++) {
        cond = CL[c]; n = NS[cond]
        e1 = what == "final" ? LAST[PID[cond, 1]] : 1
        e2 = LAST[PID[cond, 1]]
        for (j = 2; j <= n; j++) if (LAST[PID[cond, j]] != e2) fail("the seeds of " CD[cond] " ran different numbers of epochs")
        for (ep = e1; ep <= e2; ep++) {
            line = CK[cond] " " ep " " n
            for (k = 1; k <= nn; k++) {
                sm = sq = 0; m = 0
                for (j = 1; j <= n; j++) {
                    id = PID[cond, j]
                    x = NM[k] == "jshare_b" ? ((id, ep) in JS ? JS[id, ep] : "nan") : EP[id, ep, NM[k]]
                    if (x == "nan" || x == "") continue
                    sm += x; sq += x * x; m++
                }
                line = line " " (m == n ? fmt(sm, sq, m) : "nan nan")
            }
            if (what == "final" && ctrl != "") {
                if (NS[cc] != n) fail("control " ctrl " has " NS[cc] " seeds, " CD[cond] " has " n)
                split("test_acc acc_b info_b jshare_b", CN, " ")
                for (k = 1; k <= 4; k++) {
                    sm = sq = 0; m = 0
                    for (j = 1; j <= n; j++) {
                        id = PID[cc, j]
                        if (ep > LAST[id]) fail("control " ctrl " ran " LAST[id] " epochs, fewer than the " ep " of " CD[cond])
                        x = CN[k] == "jshare_b" ? ((id, ep) in JS ? JS[id, ep] : "nan") : EP[id, ep, CN[k]]
                        if (x == "nan" || x == "") continue
                        sm += x; sq += x * x; m++
                    }
                    line = line " " (m == n ? fmt(sm, sq, m) : "nan nan")
                }
                split("test_acc acc_b", DN, " ")
                for (k = 1; k <= 2; k++) {
                    sm = sq = 0
                    for (j = 1; j <= n; j++) {
                        for (jj = 1; jj <= n && SEED[cc, jj] != SEED[cond, j]; jj++) ;
                        if (jj > n) fail("control " ctrl " has no seed " SEED[cond, j])
                        x = EP[PID[cond, j], ep, DN[k]] - EP[PID[cc, jj], ep, DN[k]]
                        sm += x; sq += x * x
                    }
                    line = line " " fmt(sm, sq, n)
                }
            }
            print line
        }
        if (what == "epochs") printf("\n\n")
    }
}
