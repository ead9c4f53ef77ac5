/* bench_modes.c - throughput of the per-mode Euler recurrence (modes.h).
 * 1. the 8-mode hierarchical task, two pathways, D = 4, all modes advanced together, 10^7 updates:
 *    mode-steps per second (one mode-step = one mode of both pathways advanced by one update) and ns
 *    per mode-step, against the official Python loop (~4.5 s per 10^6 steps of one trajectory,
 *    i.e. 4.5 us per mode-step).
 * 2. a whole depth x window x mode sweep: D = 1..6 x gate b early/middle/late x 8 modes, 1000 updates.
 * Prints figures, asserts nothing. */
#include <stdio.h>

#include "deficit.h"
#include "modes.h"
#include "util.h"

static const double HIER[8] = {
    3.872983346207417, 2.6457513110645907, 1.7320508075688772, 1.7320508075688772, 1, 1, 1, 1};

int main(void)
{
    long steps = 10000000;
    modes *m = modes_alloc(4, 8, 2, MODES_SMALL, 1, HIER);
    modes_set_method(m, MODES_EULER, 0.01, 0, 0);
    deficit_list dl = {1};
    deficit_parse("gate:b@0-150", &dl.d[0]);
    modes_set_deficits(m, &dl);
    for (int q = 0; q < 2; q++)
        for (int a = 0; a < 8; a++)
            modes_set_k(m, q, a, 0.01);
    double t0 = util_now();
    int rc = modes_advance(m, 0, steps, NULL, NULL);
    double wall = util_now() - t0;
    double ms = 8.0 * steps / wall;
    printf("modes euler D=4, 8 modes x 2 pathways, %ld updates: %.3f s, %.3g mode-steps/s, %.2f ns/mode-step "
           "(status %d, K_a0 = %.6f)\n",
           steps, wall, ms, 1e9 / ms, rc, m->K[0]);
    printf("  vs official Python loop (4.5 us per step of one trajectory): %.0fx faster per mode-step\n",
           4.5e-6 * ms);
    modes_free(m);

    static const char *w[3] = {"gate:b@0-150", "gate:b@400-550", "gate:b@750-900"};
    t0 = util_now();
    int reps = 100;
    for (int r = 0; r < reps; r++)
        for (int D = 1; D <= 6; D++)
            for (int k = 0; k < 3; k++) {
                m = modes_alloc(D, 8, 2, MODES_SMALL, 1, HIER);
                modes_set_method(m, MODES_EULER, 0.01, 0, 0);
                deficit_parse(w[k], &dl.d[0]);
                modes_set_deficits(m, &dl);
                for (int q = 0; q < 2; q++)
                    for (int a = 0; a < 8; a++)
                        modes_set_k(m, q, a, 0.01);
                modes_advance(m, 0, 1000, NULL, NULL);
                modes_free(m);
            }
    wall = (util_now() - t0) / reps;
    printf("sweep depth 1..6 x 3 windows x 8 modes, 1000 updates each (no I/O): %.3f ms per sweep\n",
           wall * 1e3);
    return 0;
}
