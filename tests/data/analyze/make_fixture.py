#!/usr/bin/python3
"""Write the frozen snapshot fixture used by tests/test_cli_analyze.sh (run once; CI only reads it).

run/snap/: 2 sources (concat), n_out 3, n_in 2 + 2, 4 hidden units, rank 2, steps 0,10,20,30,40.
U = I[:, :2], V = [I2; I2] / sqrt 2, M_P = sqrt 2 U diag(k_P) I2, so the tracked K_P,alpha = k_P,alpha:
  k_a(t) = (3, 1) t/40, k_b(t) = (1, 1) t/40 -> final K_a = (3, 1), K_b = (1, 1)
  -> share_b = (0.25, 0.5), inhibition = (0.5, 0), half step of K_total (linear in t) = 20 for both.
Hidden maps: unit 0 reads only a (RSV -1), unit 1 only b (+1), unit 2 both equally (0), unit 3 dead.
Usage: /usr/bin/python3 tests/data/analyze/make_fixture.py   (from the repository root)
"""
import os
import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run", "snap")
os.makedirs(root, exist_ok=True)
steps = [0, 10, 20, 30, 40]
U = np.eye(3)[:, :2]
V = np.vstack([np.eye(2), np.eye(2)]) / np.sqrt(2)
s = np.array([4.0, 2.0])
target = U @ np.diag(s) @ V.T
ka = lambda t: np.array([3.0, 1.0]) * t / 40
kb = lambda t: np.array([1.0, 1.0]) * t / 40
ma = np.stack([np.sqrt(2) * U @ np.diag(ka(t)) for t in steps])
mb = np.stack([np.sqrt(2) * U @ np.diag(kb(t)) for t in steps])
h = np.zeros((len(steps), 4, 2))
ha, hb = h.copy(), h.copy()
for k, t in enumerate(steps):
    g = 0.1 + t / 40
    ha[k, 0] = [g, -g]
    hb[k, 1] = [0.5 * g, g]
    ha[k, 2] = [g, 2 * g]
    hb[k, 2] = [2 * g, g]
for name, arr in [("map_a", ma), ("map_b", mb), ("hidden_a", ha), ("hidden_b", hb), ("target", target),
                  ("U", U), ("s", s), ("V", V)]:
    np.save(os.path.join(root, name + ".npy"), np.ascontiguousarray(arr, dtype="<f8"))
with open(os.path.join(root, "index.dat"), "w") as f:
    f.write("# critsim fixture: index.dat (tests/data/analyze/make_fixture.py)\n")
    for kv in ["snap_format = 1", "engine = fixture", "n_src = 2", "layout = concat", "n_out = 3", "n_in = 2,2",
               "n_hidden = 4", "hidden_layer = 1", "rank = 2", "n_snap = 5", "has_target = 1", "has_svd = 1",
               "has_sxx = 0"]:
        f.write("# %s\n" % kv)
    f.write("# k step time\n")
    for k, t in enumerate(steps):
        f.write("%d %d %.17g\n" % (k, t, t * 0.01))
