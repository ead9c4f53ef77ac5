#!/usr/bin/python3
"""bench_mc_torch.py - time one iteration of deep matrix completion in PyTorch, doing the per-iteration
work of the official ICLR 2024 code: 100 x 100 target, D = 3 square factors of width 100, no bias,
plain gradient descent lr 0.2, train loss (1/2m) sum over the m = 2000 observed entries, the
end-to-end map rebuilt every iteration, and (like the official loop) the test loss over all n^2
entries every iteration.

Two loops, both timed, the faster one is the reference (so that a ratio cannot be won against a slow
reference):
  official-style  torch.optim.SGD, zero_grad, loss.backward(), the test loss read with .item();
  lean            torch.autograd.grad on the factors, one in-place foreach update under no_grad, the
                  test loss written into a preallocated tensor (no Python float per iteration), the
                  observed entries gathered with a precomputed flat index.
float32 is the official precision; --dtype f64 times double precision.
Usage: bench_mc_torch.py [--threads T] [--reps R] [--iters N] [--dtype f32|f64]
Without options: both loops at 1 and 2 threads, float32.  Prints `mc_torch_ms X` (the faster loop, ms
per iteration, best of R), `mc_torch_cpu_ms X` (the same in CPU time) and a line per loop.
Only for benchmarks: the project never needs Python (make bench runs this only when torch imports).
"""
import argparse
import sys
import time

try:
    import torch
except ImportError:
    print("bench_mc_torch: python3-torch not installed; skipped")
    sys.exit(0)


def setup(depth, n, m, dtype):
    g = torch.Generator().manual_seed(1)
    a = torch.randn(n, 10, generator=g)
    b = torch.randn(n, 10, generator=g)
    target = a @ b.T
    target *= n / target.norm()
    idx = torch.randperm(n * n, generator=g)[:m]
    std = 0.001 ** (1.0 / depth) / n ** 0.5
    ws = [(torch.randn(n, n, generator=g) * std).to(dtype).requires_grad_(True) for _ in range(depth)]
    flat_t = target.reshape(-1).to(dtype)
    return ws, idx, flat_t, flat_t[idx].clone()


def run_official(threads, iters, dtype, depth=3, n=100, m=2000):
    torch.set_num_threads(threads)
    ws, idx, flat_t, obs_t = setup(depth, n, m, dtype)
    opt = torch.optim.SGD(ws, lr=0.2)

    def step():
        e2e = ws[0].T
        for w in ws[1:]:
            e2e = e2e @ w.T
        flat = e2e.reshape(-1)
        loss = 0.5 * ((flat[idx] - obs_t) ** 2).mean()
        with torch.no_grad():
            _ = ((flat - flat_t) ** 2).mean().item()
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(200):
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(iters):
        step()
    return (time.perf_counter() - t0) / iters, (time.process_time() - c0) / iters


def run_lean(threads, iters, dtype, depth=3, n=100, m=2000):
    torch.set_num_threads(threads)
    ws, idx, flat_t, obs_t = setup(depth, n, m, dtype)
    test = torch.empty(iters + 200, dtype=dtype)
    half_over_m = 0.5 / m

    def step(i):
        e2e = ws[0].T
        for w in ws[1:]:
            e2e = e2e @ w.T
        flat = e2e.reshape(-1)
        r = flat[idx] - obs_t
        loss = half_over_m * torch.dot(r, r)
        grads = torch.autograd.grad(loss, ws)
        with torch.no_grad():
            d = flat - flat_t
            test[i] = torch.dot(d, d) / (n * n)
            torch._foreach_add_(ws, grads, alpha=-0.2)

    for i in range(200):
        step(i)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(iters):
        step(200 + i)
    return (time.perf_counter() - t0) / iters, (time.process_time() - c0) / iters


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--dtype", choices=("f32", "f64"), default="f32")
    a = ap.parse_args()
    dtype = torch.float32 if a.dtype == "f32" else torch.float64
    print(f"PyTorch {torch.__version__}: matrix completion 100x100, D = 3, m = 2000, {a.dtype}")
    for th in ((a.threads,) if a.threads else (1, 2)):
        off = [run_official(th, a.iters, dtype) for _ in range(a.reps)]
        lean = [run_lean(th, a.iters, dtype) for _ in range(a.reps)]
        ow, oc = min(t[0] for t in off), min(t[1] for t in off)
        lw, lc = min(t[0] for t in lean), min(t[1] for t in lean)
        print(f"  threads {th}: official-style loop {1e3 * ow:.4f} ms/iteration (CPU {1e3 * oc:.4f}), lean "
              f"loop {1e3 * lw:.4f} ms/iteration (CPU {1e3 * lc:.4f}); both with the per-iteration test loss")
        print(f"mc_torch_ms {1e3 * min(ow, lw):.4f}\nmc_torch_cpu_ms {1e3 * min(oc, lc):.4f}")


if __name__ == "__main__":
    main()
