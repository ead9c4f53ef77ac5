/* fuzz_snapindex.c - the snapshot loader (snap_load) on a fuzzed RUN/snap/index.dat, with map_a.npy and
 * map_b.npy of a small consistent run beside it (so that index files that pass reach the arrays): an
 * accepted run has increasing steps and arrays of the announced shapes. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "npy.h"
#include "snap.h"

int fuzz_snapindex(const uint8_t *data, size_t n)
{
    static int arrays;
    char run[128];
    snprintf(run, sizeof run, "%s/run", fuzz_dir());
    if (!arrays) { /* (2 snapshots, 2 outputs, 3 inputs) per source */
        double z[12] = {0};
        size_t sh[3] = {2, 2, 3};
        fuzz_file("run/snap/.keep", NULL, 0);
        char p[192];
        snprintf(p, sizeof p, "%s/snap/map_a.npy", run);
        npy_write_f64(p, 3, sh, z);
        snprintf(p, sizeof p, "%s/snap/map_b.npy", run);
        npy_write_f64(p, 3, sh, z);
        arrays = 1;
    }
    fuzz_file("run/snap/index.dat", data, n);
    snap_run r;
    int bad = 0;
    if (snap_load(run, &r) == 0) {
        for (int k = 1; k < r.n_snap; k++)
            bad |= r.step[k] <= r.step[k - 1];
        for (int p = 0; p < r.meta.n_src; p++) {
            size_t cnt = (size_t)r.n_snap * (size_t)r.meta.n_out * (size_t)r.meta.n_in[p];
            for (size_t i = 0; i < cnt; i++)
                fuzz_sink += r.map[p][i];
        }
        snap_free(&r);
    }
    return bad ? -1 : 0;
}

FUZZ_TARGET(snapindex)
