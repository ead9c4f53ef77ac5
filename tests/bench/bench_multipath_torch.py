#!/usr/bin/python3
"""bench_multipath_torch.py - a lean PyTorch loop doing the per-step work of the official ICLR 2024
multipath run (Fig. 2 of "When Are Bi-Directional Critical Periods Possible in Deep Linear Networks?"
style setup: the Saxe-Sodhani-Lewallen multipathway code), for comparison with `critsim flow --model
models/flow_fig2.ini --every 1` run three times.

Per run (1000 plain gradient-descent steps, lr 0.01): the 8 one-hot item inputs X = I_8, the 15-feature
hierarchy as targets; two pathways of four bias-free layers (8 -> 100 -> 100 -> 100 -> 15) whose
outputs are summed; loss 0.5 x summed squared error; pathway b gated (its output still added, its
parameters get no gradient) on [0,150), [400,550) or [750,900); backward, SGD step; then each pathway's
map recomputed on the identity input without gradients and stored.  After the run every stored map is
turned into K = U^T Omega V (U, V: the target's singular vectors).  Aligned small initialisation
(K(0) = 0.01 (1 + 0.1 xi) per mode, split evenly over the layers, random orthogonal hidden rotations).

Lean: no optimizer object (torch.autograd.grad and one in-place foreach update), no Python-side copies
of the maps (written into one preallocated tensor), the gated pathway's forward under no_grad.  The
official script also runs the per-mode recurrence of every mode in a Python loop for its plot; that is
not part of this reference.  Prints the in-loop seconds of the three runs (Python start-up and imports
excluded; wall and CPU), best of --reps, in float32 (the official precision) and float64.
Usage: bench_multipath_torch.py [--threads T] [--reps R] [--width N] [--steps S] [--dtype f32|f64|both]
Only for benchmarks: the project never needs Python.
"""
import argparse
import sys
import time

try:
    import torch
except ImportError:
    print("bench_multipath_torch: python3-torch not installed; skipped")
    sys.exit(0)

HIER = [
    [1, 1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0, 0, 0, 0],
    [0, 0, 0, 0, 1, 1, 1, 1],
    [1, 1, 0, 0, 0, 0, 0, 0],
    [0, 0, 1, 1, 0, 0, 0, 0],
    [0, 0, 0, 0, 1, 1, 0, 0],
    [0, 0, 0, 0, 0, 0, 1, 1],
] + [[1 if j == i else 0 for j in range(8)] for i in range(8)]


def orth(n, g, dtype):
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return q.to(dtype)


def aligned_init(U, V, width, depth, k0, g, dtype):
    """W1 = R1 D V^T, Wl = Rl D R_{l-1}^T, WD = U D R_{D-1}^T with every diagonal k^(1/D)."""
    r = U.shape[1]
    rots = [orth(width, g, dtype) for _ in range(depth - 1)]
    d = k0 ** (1.0 / depth)
    ws = []
    for l in range(depth):
        rows = U if l == depth - 1 else rots[l][:, :r]
        cols = V if l == 0 else rots[l - 1][:, :r]
        ws.append((rows * d) @ cols.T)
    return ws


def one_run(gate, steps, width, depth, dtype, g):
    Y = torch.tensor(HIER, dtype=dtype).T.contiguous()  # 8 items x 15 features (rows = samples)
    X = torch.eye(8, dtype=dtype)
    Omega = Y.T  # 15 x 8 target map (X = I)
    U, _, Vh = torch.linalg.svd(Omega, full_matrices=False)
    xi = torch.randn(8, generator=g, dtype=torch.float64)
    k0 = (0.01 * (1 + 0.1 * xi)).sort(descending=True).values.to(dtype)
    pw = [[w.clone().requires_grad_(True) for w in aligned_init(U, Vh.T, width, depth, k0, g, dtype)]
          for _ in range(2)]
    params_a, params_b = pw
    both = params_a + params_b
    maps = torch.empty(steps + 1, 2, 8, 15, dtype=dtype)
    lr = 0.01

    def fwd(ws, x):
        h = x
        for w in ws:
            h = h @ w.T
        return h

    with torch.no_grad():
        maps[0, 0] = fwd(params_a, X)
        maps[0, 1] = fwd(params_b, X)
    t0, c0 = time.perf_counter(), time.process_time()
    for t in range(steps):
        gated = gate[0] <= t < gate[1]
        if gated:
            with torch.no_grad():
                yb = fwd(params_b, X)
            loss = 0.5 * ((fwd(params_a, X) + yb - Y) ** 2).sum()
            grads = torch.autograd.grad(loss, params_a)
            with torch.no_grad():
                torch._foreach_add_(params_a, grads, alpha=-lr)
        else:
            loss = 0.5 * ((fwd(params_a, X) + fwd(params_b, X) - Y) ** 2).sum()
            grads = torch.autograd.grad(loss, both)
            with torch.no_grad():
                torch._foreach_add_(both, grads, alpha=-lr)
        with torch.no_grad():
            torch.matmul(fwd(params_a[:-1], X), params_a[-1].T, out=maps[t + 1, 0])
            torch.matmul(fwd(params_b[:-1], X), params_b[-1].T, out=maps[t + 1, 1])
    with torch.no_grad():
        K = U.T @ maps.transpose(-1, -2) @ Vh.T  # (steps+1) x 2 x 8 x 8
    return time.perf_counter() - t0, time.process_time() - c0, float(loss), K


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--dtype", default="both")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    gates = [(0, 150), (400, 550), (750, 900)]
    dtypes = {"f32": [torch.float32], "f64": [torch.float64]}.get(a.dtype, [torch.float32, torch.float64])
    for dtype in dtypes:
        best = bcpu = float("inf")
        for _ in range(a.reps):
            g = torch.Generator().manual_seed(0)
            tot = cpu = 0.0
            for gate in gates:
                dt, dc, loss, K = one_run(gate, a.steps, a.width, 4, dtype, g)
                tot += dt
                cpu += dc
            best, bcpu = min(best, tot), min(bcpu, cpu)
        name = "float32" if dtype == torch.float32 else "float64"
        print(f"multipath_torch {name} threads {a.threads} width {a.width}: {best:.4f} s in-loop for 3 runs "
              f"x {a.steps} steps ({1e6 * best / (3 * a.steps):.1f} us/step; CPU {bcpu:.4f} s; final loss "
              f"{loss:.4g}, K_aa of the last run {float(K[-1, 0, 0, 0]):.4f}; torch {torch.__version__})")
        print(f"mp_torch_{name} {best:.4f}\nmp_torch_cpu_{name} {bcpu:.4f}")


if __name__ == "__main__":
    main()
