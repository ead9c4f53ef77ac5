#!/usr/bin/python3
"""bench_mc_torch.py - time one iteration of deep matrix completion in PyTorch, as the official ICLR 2024
code runs it (papers.md A.2 M3, A.9): 100 x 100 target, D = 3 square float32 factors of width 100, no
bias, plain SGD lr 0.2, train loss (1/2m) sum over the m = 2000 observed entries, the end-to-end map
rebuilt every iteration, and (like the official loop) the test loss over all n^2 entries every
iteration.  Prints ms per iteration at 1 and 2 threads; critsim's figure is in bench_flow.

Only for benchmarks: the project never needs Python (make bench runs this only when torch imports).
"""
import sys
import time

try:
    import torch
except ImportError:
    print("bench_mc_torch: python3-torch not installed; skipped")
    sys.exit(0)


def run(threads, depth=3, n=100, m=2000, iters=3000, with_test=True):
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(1)
    a = torch.randn(n, 10, generator=g)
    b = torch.randn(n, 10, generator=g)
    target = a @ b.T
    target *= n / target.norm()
    idx = torch.randperm(n * n, generator=g)[:m]
    std = 0.001 ** (1.0 / depth) / n ** 0.5
    ws = [torch.nn.Parameter(torch.randn(n, n, generator=g) * std) for _ in range(depth)]
    opt = torch.optim.SGD(ws, lr=0.2)
    flat_t = target.reshape(-1)
    obs_t = flat_t[idx]

    def step():
        e2e = ws[0].T
        for w in ws[1:]:
            e2e = e2e @ w.T
        flat = e2e.reshape(-1)
        loss = 0.5 * ((flat[idx] - obs_t) ** 2).mean()
        if with_test:
            with torch.no_grad():
                _ = ((flat - flat_t) ** 2).mean().item()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    for _ in range(200):
        step()
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    return (time.perf_counter() - t0) / iters


if __name__ == "__main__":
    print(f"PyTorch {torch.__version__}: matrix completion 100x100, D = 3, m = 2000, float32 (official-style loop)")
    for th in (1, 2):
        best = min(run(th) for _ in range(3))
        best_nt = min(run(th, with_test=False) for _ in range(3))
        print(f"  threads {th}: {1e3 * best:.3f} ms/iteration with the per-iteration test loss, "
              f"{1e3 * best_nt:.3f} ms without")
