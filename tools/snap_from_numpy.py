#!/usr/bin/python3
"""Feed critsim's analyzer from any framework: train a toy two-source network in numpy, write its
snapshots in critsim's snapshot format (docs/formats.md#snapshots-snap) and run `critsim analyze`.

Usage (from the repository root, after `make`):
    /usr/bin/python3 tools/snap_from_numpy.py [OUT_DIR [CRITSIM]]     (defaults: /tmp/toy_run, ./critsim)

The toy: two sources x_a, x_b (4 inputs each, x ~ N(0, I)) concatenated into x = [x_a; x_b]; a tanh
hidden layer of 16 units and a linear output of 3: y_hat = W2 tanh(W1 x).  The target is a random
rank-3 linear map y = T x.  Full-batch gradient descent on 1/2 mean ||y_hat - y||^2; source b is
zeroed during the first 300 updates (a "remove b" deficit), so its pathway starts late.

What goes into RUN/snap/ (the same files critsim's engines write):
    map_a.npy, map_b.npy  (n_snap, n_out, n_in[P]) per-source maps: for a nonlinear network the Jacobian
                          d y_hat / d x_P averaged over a fixed probe set (the CNN does the same)
    target.npy            (n_out, n_in_total) the target map T
    U.npy, s.npy, V.npy   T = U diag(s) V^T, V itself (n_in_total, r), not V^T
    sv_a.npy, sv_b.npy    (n_snap, n_units) per-unit source variances of the hidden layer, here a small
                          sampled estimate (variance over x_a with x_b held fixed, and vice versa)
    index.dat             '# key = value' metadata, then rows `k step time`; written LAST
With PyTorch the same works: take tensors to numpy (.detach().cpu().double().numpy()) and np.save them.
"""
import os
import subprocess
import sys

import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/toy_run"
critsim = sys.argv[2] if len(sys.argv) > 2 else "./critsim"
rng = np.random.default_rng(0)
n_a, n_b, n_hid, n_out = 4, 4, 16, 3
n_in = n_a + n_b

# task: y = T x with T of rank 3; singular vectors of T are the fixed basis of the analysis
T = rng.standard_normal((n_out, 3)) @ rng.standard_normal((3, n_in)) / np.sqrt(n_in)
U, s, Vt = np.linalg.svd(T, full_matrices=False)
V = Vt.T  # critsim stores V itself
X = rng.standard_normal((512, n_in))  # training inputs (rows are samples)
Y = X @ T.T
probe = rng.standard_normal((256, n_in))  # fixed probe set for the Jacobians

W1 = 0.1 * rng.standard_normal((n_hid, n_in))
W2 = 0.1 * rng.standard_normal((n_out, n_hid))
lr, steps, deficit_end, every = 0.05, 3000, 300, 100


def jacobian_maps(W1, W2):
    """Mean over the probe set of d y_hat / d x = W2 diag(1 - h^2) W1, split into the two sources."""
    h = np.tanh(probe @ W1.T)
    J = np.einsum("oh,nh,hi->oi", W2, 1 - h**2, W1) / len(probe)
    return J[:, :n_a], J[:, n_a:]


def source_variances(W1, n_fix=8, n_var=64):
    """Per hidden unit: SV_a = Var over x_a of tanh(W1 x) with x_b fixed (mean over n_fix partners),
    and SV_b the same with the roles swapped."""
    sva, svb = np.zeros(n_hid), np.zeros(n_hid)
    for _ in range(n_fix):
        xa, xb = rng.standard_normal((n_var, n_a)), rng.standard_normal((n_var, n_b))
        fa, fb = rng.standard_normal(n_a), rng.standard_normal(n_b)
        za = np.tanh(np.hstack([xa, np.tile(fb, (n_var, 1))]) @ W1.T)  # x_a varies, x_b fixed
        zb = np.tanh(np.hstack([np.tile(fa, (n_var, 1)), xb]) @ W1.T)  # x_b varies, x_a fixed
        sva += za.var(axis=0) / n_fix
        svb += zb.var(axis=0) / n_fix
    return sva, svb


rec = {"step": [], "map_a": [], "map_b": [], "sv_a": [], "sv_b": []}
for t in range(steps + 1):
    if t % every == 0 or t == steps:  # row `step` t = the state after t updates
        ma, mb = jacobian_maps(W1, W2)
        sva, svb = source_variances(W1)
        for k, v in [("step", t), ("map_a", ma), ("map_b", mb), ("sv_a", sva), ("sv_b", svb)]:
            rec[k].append(v)
    if t == steps:
        break
    Xt = X.copy()
    if t < deficit_end:  # update t is affected iff START <= t < END
        Xt[:, n_a:] = 0.0
    H = np.tanh(Xt @ W1.T)
    E = (H @ W2.T - Y) / len(X)  # d loss / d y_hat for the mean loss
    gW2 = E.T @ H
    gW1 = ((E @ W2) * (1 - H**2)).T @ Xt
    W1 -= lr * gW1
    W2 -= lr * gW2

snap = os.path.join(out, "snap")
os.makedirs(snap, exist_ok=True)
f8 = lambda a: np.ascontiguousarray(a, dtype="<f8")  # little-endian float64, C order
np.save(os.path.join(snap, "map_a.npy"), f8(np.stack(rec["map_a"])))
np.save(os.path.join(snap, "map_b.npy"), f8(np.stack(rec["map_b"])))
np.save(os.path.join(snap, "sv_a.npy"), f8(np.stack(rec["sv_a"])))
np.save(os.path.join(snap, "sv_b.npy"), f8(np.stack(rec["sv_b"])))
np.save(os.path.join(snap, "target.npy"), f8(T))
for name, a in [("U", U), ("s", s), ("V", V)]:
    np.save(os.path.join(snap, name + ".npy"), f8(a))
with open(os.path.join(snap, "index.dat"), "w") as f:  # last: a folder without it is incomplete
    f.write("# written by tools/snap_from_numpy.py\n")
    for kv in ["snap_format = 1", "engine = numpy-toy", "n_src = 2", "layout = concat", "n_out = %d" % n_out,
               "n_in = %d,%d" % (n_a, n_b), "n_hidden = 0", "rank = %d" % len(s), "n_snap = %d" % len(rec["step"]),
               "has_target = 1", "has_svd = 1", "has_sxx = 0", "n_units = %d" % n_hid]:
        f.write("# %s\n" % kv)
    f.write("# k step time\n")
    for k, t in enumerate(rec["step"]):
        f.write("%d %d %.17g\n" % (k, t, t * lr))

subprocess.run([critsim, "analyze", out], check=True)
print("critsim analyze %s: summary.dat" % out)
with open(os.path.join(out, "summary.dat")) as f:
    for line in f:
        if not line.startswith("#"):
            print("  " + line.rstrip())
