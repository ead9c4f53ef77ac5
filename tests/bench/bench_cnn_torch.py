#!/usr/bin/python3
"""bench_cnn_torch.py - the networks of bench_cnn.c in PyTorch on the CPU (same thread counts, batch
128, 2 x 28 x 28 inputs, 10 classes, SGD momentum 0.9 weight decay 5e-4): training images per second
(forward + backward + update), for comparison with critsim; the best of NCHW and channels-last
layouts is reported (both printed).  Prints figures, asserts nothing.
Without arguments: the three networks at 1 and 2 threads, 3 s per measurement.  With
`--net default|big|split --threads T --seconds S`: that one measurement (tests/bench/table.sh calls it
so, back to back with critsim's), printed as `cnn_torch_ips N`.
Needs python3-torch (Debian); `make bench` runs it only when torch imports.
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def block(cin, cout, k=3, s=1):
    return [nn.Conv2d(cin, cout, k, s, (k - 1) // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def stage(cin, c):
    return block(cin, c, 3, 2) + block(c, c)


class Fused(nn.Module):
    """conv W - [conv 2^j W s2 - conv 2^j W]_{j=1..D} - conv1x1 - GAP - linear (critsim `fused`)."""

    def __init__(self, in_c=2, W=16, D=2, n_class=10):
        super().__init__()
        layers, c = block(in_c, W), W
        for j in range(1, D + 1):
            layers += stage(c, W << j)
            c = W << j
        layers += block(c, c, 1)
        self.body = nn.Sequential(*layers)
        self.lin = nn.Linear(c, n_class)

    def forward(self, x):
        return self.lin(self.body(x).mean(dim=(2, 3)))


class Split(nn.Module):
    """critsim `split` with 2 sources of 1 channel, fused by sum after `fuse_after` stages."""

    def __init__(self, W=10, D=2, fuse_after=1, n_class=10):
        super().__init__()

        def pathway():
            layers, c = block(1, W), W
            for j in range(1, fuse_after + 1):
                layers += stage(c, W << j)
                c = W << j
            return nn.Sequential(*layers), c

        self.a, c = pathway()
        self.b, _ = pathway()
        layers = []
        for j in range(fuse_after + 1, D + 1):
            layers += stage(c, W << j)
            c = W << j
        layers += block(c, c, 1)
        self.trunk = nn.Sequential(*layers)
        self.lin = nn.Linear(c, n_class)

    def forward(self, x):
        z = self.a(x[:, 0:1]) + self.b(x[:, 1:2])
        return self.lin(self.trunk(z).mean(dim=(2, 3)))


def bench(name, make, threads, seconds=3.0, quiet=False):
    """Best of NCHW and channels-last (oneDNN's preferred layout, usually faster here)."""
    torch.set_num_threads(threads)
    res, cpu = {}, {}
    for fmt in ("nchw", "channels_last"):
        torch.manual_seed(0)
        net = make()
        x = torch.randn(128, 2, 28, 28)
        y = torch.randint(0, 10, (128,))
        if fmt == "channels_last":
            net = net.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        net.train()

        def step():
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()

        for _ in range(2):
            step()
        n, t0, best, bcpu = 0, time.perf_counter(), float("inf"), float("inf")
        while True:
            t1, c1 = time.perf_counter(), time.process_time()
            step()
            best = min(best, time.perf_counter() - t1)
            bcpu = min(bcpu, time.process_time() - c1)
            n += 1
            dt = time.perf_counter() - t0
            if dt > seconds and n >= 3:
                break
        # quiet (table.sh): the fastest step, as critsim's side measures it (the least disturbed step
        # on a shared machine), also in CPU seconds (images per CPU second, the steadier figure at 1
        # thread on a loaded machine); else the mean over the loop, as bench_cnn.c
        res[fmt] = 128 / best if quiet else n * 128 / dt
        cpu[fmt] = 128 / bcpu
    if quiet:
        print("cnn_torch_ips %.1f\ncnn_torch_nchw %.1f\ncnn_torch_cl %.1f\ncnn_torch_cpu_ips %.1f" % (
            max(res.values()), res["nchw"], res["channels_last"], max(cpu.values())))
        return
    print("%-34s threads %d: %7.0f images/s  (NCHW %.0f, channels-last %.0f; torch %s, mkldnn %s)" % (
        name, threads, max(res.values()), res["nchw"], res["channels_last"], torch.__version__,
        torch.backends.mkldnn.is_available()))


NETS = {"default": ("default (fused W16 D2)", lambda: Fused(W=16)),
        "big": ("All-CNN-style 20M (fused W32 D2)", lambda: Fused(W=32)),
        "split": ("split (W10 D2 fuse-after 1 sum)", lambda: Split(W=10))}

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", choices=sorted(NETS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    if a.net:
        bench(NETS[a.net][0], NETS[a.net][1], a.threads, a.seconds, quiet=True)
    else:
        for T in (1, 2):
            for key in ("default", "big", "split"):
                bench(NETS[key][0], NETS[key][1], T, a.seconds)
