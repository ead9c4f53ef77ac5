# fill.awk - put the program's numbers into the paper.  Reads a template and replaces every token
#   @{FILE|KEY}@                  value of KEY in a `key value` table (final.dat, summary.dat of analyze)
#   @{FILE|COL=V,COL=V|OUTCOL}@   value of OUTCOL in the first row of a table whose columns COL equal V
# and the same with a printf format as last field: @{FILE|KEY|%.3f}@, @{FILE|COL=V|OUTCOL|%d}@.
# FILE is relative to the results folder R (awk -v R=results; R empty: the current folder).  Column
# names come from the last '#' line before the data (docs/formats.md#tables).  V matches a cell as a number
# when both look numeric (1000 = 1e3 = 1000.0), else as text.  Numbers are printed with 4 significant digits
# (%.4g) unless a format is given; text cells are copied as they are.
# A token that cannot be resolved stops the run (exit status 2) with one line on stderr naming the
# token and the reason: a missing or empty file, a table that records a failed run (`# FAILED`), a
# missing key, column or row, a row whose `status` column is not 0, a non-finite value, an unterminated
# token.  A paper never ships a number that the program did not produce.
#   awk -v R=results -f paper/fill.awk paper/critsim.md.in > paper/critsim.md.tmp && mv ...
function isnum(v) { return v ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
function same(a, b) { return (isnum(a) && isnum(b)) ? (a + 0 == b + 0) : (a == b) }
function fmt(v, f) {
    if (tolower(v) ~ /^[-+]?(nan|inf)/) fail("non-finite value '" v "'")
    if (!isnum(v)) return v
    return sprintf(f == "" ? "%.4g" : f, v + 0)
}
function fail(msg) {
    printf("paper/fill.awk: line %d: token @{%s%s: %s\n", NR, TOK, (UNT ? "" : "}@"), msg) > "/dev/stderr"
    err = 1; exit 2
}
# read FILE into D[1..nd] (data lines) and H (column names of the last '#' line before the first data
# line); cached: several tokens usually read the same table
function load(file,    line, r, hdr, seen) {
    if (file == cached) return
    nd = 0; hdr = ""; seen = 0; failed = 0
    while ((r = (getline line < file)) > 0) {
        if (line ~ /^#/) {
            if (line ~ /^# FAILED/) failed = 1
            if (!seen) hdr = substr(line, 2)
            continue
        }
        if (line ~ /^[ \t]*$/) continue
        seen = 1
        D[++nd] = line
    }
    if (r < 0) fail("cannot read " file " (run the experiments first: make paper)")
    close(file)
    if (nd == 0) fail(file " has no data rows")
    if (failed) fail(file " records a failed run (# FAILED)")
    ncol = split(hdr, H)
    cached = file
}
function colidx(name,    i) { for (i = 1; i <= ncol; i++) if (H[i] == name) return i; return 0 }
function lookup(tok,    parts, n, file, f, i, r, conds, nc, c, kv, ok, k, out, form, st) {
    TOK = tok
    n = split(tok, parts, "|")
    form = ""
    if (n >= 3 && parts[n] ~ /^%/) { form = parts[n]; n-- }
    if (n < 2 || n > 3) fail("want @{FILE|KEY}@ or @{FILE|COL=V,...|OUTCOL}@ (optionally |%FORMAT)")
    file = (R == "" ? "" : R "/") parts[1]
    load(file)
    if (n == 2) {
        if (parts[2] ~ /=/) fail("a KEY has no '='; for a row condition give the output column too")
        for (r = 1; r <= nd; r++) {
            split(D[r], f)
            if (f[1] == parts[2]) return fmt(f[2], form)
        }
        fail("no key '" parts[2] "' in " file)
    }
    if (ncol == 0) fail(file " has no column names (last '#' line before the data)")
    if (!(out = colidx(parts[3]))) fail("no column '" parts[3] "' in " file)
    nc = split(parts[2], conds, ",")
    for (c = 1; c <= nc; c++) {
        if ((k = index(conds[c], "=")) == 0) fail("condition '" conds[c] "' is not COL=V")
        kv[c, 1] = substr(conds[c], 1, k - 1); kv[c, 2] = substr(conds[c], k + 1)
        if (!(kv[c, 0] = colidx(kv[c, 1]))) fail("no column '" kv[c, 1] "' in " file)
    }
    st = colidx("status")
    for (r = 1; r <= nd; r++) {
        split(D[r], f)
        ok = 1
        for (c = 1; c <= nc && ok; c++) if (!same(f[kv[c, 0]], kv[c, 2])) ok = 0
        if (!ok) continue
        if (st && st != out && f[st] != "0" && f[st] != "ok") fail("row " parts[2] " of " file " has status '" f[st] "'")
        if (f[out] == "") fail("row " parts[2] " of " file " has no column " out)
        return fmt(f[out], form)
    }
    fail("no row " parts[2] " in " file)
}
{
    out = ""
    s = $0
    while ((p = index(s, "@{")) > 0) {
        q = index(substr(s, p + 2), "}@")
        if (q == 0) { TOK = substr(s, p + 2); UNT = 1; fail("unterminated token (no '}@' on the same line)") }
        out = out substr(s, 1, p - 1) lookup(substr(s, p + 2, q - 1))
        s = substr(s, p + q + 3)
    }
    print out s
}
END { if (err) exit 2 }
