#!/usr/bin/python3
"""bench_cnn_torch.py - the networks of bench_cnn.c in PyTorch on the CPU (same thread counts, batch
128, 2 x 28 x 28 inputs, 10 classes, SGD momentum 0.9 weight decay 5e-4): training images per second
(forward + backward + update), for comparison with critsim; the best of NCHW and channels-last
layouts is reported (both printed).  Prints figures, asserts nothing.
Needs python3-torch (Debian); `make bench` runs it only when torch imports.
"""
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


def bench(name, make, threads):
    """Best of NCHW and channels-last (oneDNN's preferred layout, usually faster here)."""
    torch.set_num_threads(threads)
    res = {}
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
        n, t0 = 0, time.perf_counter()
        while True:
            step()
            n += 1
            dt = time.perf_counter() - t0
            if dt > 3 and n >= 3:
                break
        res[fmt] = n * 128 / dt
    print("%-34s threads %d: %7.0f images/s  (NCHW %.0f, channels-last %.0f; torch %s, mkldnn %s)" % (
        name, threads, max(res.values()), res["nchw"], res["channels_last"], torch.__version__,
        torch.backends.mkldnn.is_available()))


for T in (1, 2):
    bench("default (fused W16 D2)", lambda: Fused(W=16), T)
    bench("All-CNN-style 20M (fused W32 D2)", lambda: Fused(W=32), T)
    bench("split (W10 D2 fuse-after 1 sum)", lambda: Split(W=10), T)
