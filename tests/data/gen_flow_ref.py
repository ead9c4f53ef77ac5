#!/usr/bin/python3
"""gen_flow_ref.py - frozen PyTorch reference for critsim's full-matrix GD (tests/test_dln.c).

Setup (the ICLR 2024 multipath model, small): the 8-item / 15-feature hierarchy (one-hot inputs,
X = I_8), two pathways reading the same input, depth 3, width 6, no biases, outputs summed;
loss = 0.5 * MSELoss(reduction='sum'); plain torch.optim.SGD (no momentum, no weight decay),
lr 0.05, 100 full-batch steps; pathway b is gated on steps [0, 20) by detaching its output (its
parameters get no gradient, its output still counts), as the official code does.
Run in float64 so that the C engine (double) must agree to ~1e-12.
Writes tests/data/flow_ref/: init_P_L.npy, final_P_L.npy (P = a, b; L = 1..3; shape out x in),
loss.npy (100 pre-step losses).  Run once with /usr/bin/python3 from the repository root; CI only
reads the files.
"""
import os
import numpy as np
import torch

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flow_ref")
os.makedirs(out, exist_ok=True)

yt = np.zeros((15, 8))
for j in range(8):
    yt[0, j] = 1
    yt[1 + j // 4, j] = 1
    yt[3 + j // 2, j] = 1
    yt[7 + j, j] = 1
X = torch.eye(8)
Y = torch.tensor(yt.T)  # items x features

dims = [8, 6, 6, 15]
nets = {}
for p in "ab":
    nets[p] = [torch.nn.Linear(dims[l], dims[l + 1], bias=False) for l in range(3)]
    for l, lin in enumerate(nets[p]):
        torch.nn.init.normal_(lin.weight, std=0.5 / np.sqrt(dims[l]))
        np.save(os.path.join(out, f"init_{p}_{l + 1}.npy"), lin.weight.detach().numpy().copy())
params = [lin.weight for p in "ab" for lin in nets[p]]
opt = torch.optim.SGD(params, lr=0.05)
mse = torch.nn.MSELoss(reduction="sum")


def path(p, x):
    for lin in nets[p]:
        x = lin(x)
    return x


losses = []
for step in range(100):
    opt.zero_grad()
    ob = path("b", X)
    if 0 <= step < 20:
        ob = ob.detach()
    loss = 0.5 * mse(path("a", X) + ob, Y)
    loss.backward()
    opt.step()
    losses.append(loss.item())
np.save(os.path.join(out, "loss.npy"), np.array(losses))
for p in "ab":
    for l, lin in enumerate(nets[p]):
        np.save(os.path.join(out, f"final_{p}_{l + 1}.npy"), lin.weight.detach().numpy().copy())
print("wrote", out, "final loss", losses[-1])
