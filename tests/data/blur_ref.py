#!/usr/bin/python3
"""Generate tests/data/blur_ref.txt: frozen references for data_blur (docs/theory.md#blur),
read by tests/test_data.c.

Each case: a line "c h w k", then c*h*w input floats, then c*h*w outputs of
  torch.nn.functional.interpolate(x, (k, k), mode='bilinear', antialias=True, align_corners=False)
followed by interpolate back to (h, w) with the same settings (for upsampling antialias has no effect:
plain bilinear, half-pixel centres, edge clamp).  This is the torchvision Resize(k) -> Resize(h) path of
the lineage code (PIL-style antialiased bilinear) on float tensors.  Run once with Debian's python3-torch:
    /usr/bin/python3 tests/data/blur_ref.py > tests/data/blur_ref.txt
"""
import torch
import torch.nn.functional as F

torch.manual_seed(0)
cases = []
cases.append(torch.arange(4.0).repeat(4, 1).reshape(1, 1, 4, 4))
cases.append((1, 28, 28, 7))
cases.append((1, 13, 13, 4))
cases.append((3, 12, 12, 3))
cases.append((2, 16, 16, 5))
cb = torch.tensor([[float((r + c) % 2) for c in range(16)] for r in range(16)]).reshape(1, 1, 16, 16)
cases.append(cb)


def blur(x, k):
    h, w = x.shape[2], x.shape[3]
    d = F.interpolate(x, size=(k, k), mode='bilinear', antialias=True, align_corners=False)
    return F.interpolate(d, size=(h, w), mode='bilinear', antialias=True, align_corners=False)


for case in cases:
    if isinstance(case, tuple):
        c, h, w, k = case
        x = torch.randn(1, c, h, w)
    else:
        x = case
        c, h, w = x.shape[1], x.shape[2], x.shape[3]
        k = 2 if h == 4 else 4
    y = blur(x, k)
    print(c, h, w, k)
    print(" ".join("%.9g" % v for v in x.flatten().tolist()))
    print(" ".join("%.9g" % v for v in y.flatten().tolist()))
