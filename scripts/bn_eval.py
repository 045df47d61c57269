#!/usr/bin/env python3
# Test accuracy of saved weights (desktop train --save FILE) under three BatchNorm evaluation
# rules: our running statistics, the test set's own (stax's), and precise training-set ones.
# Usage: python scripts/bn_eval.py FILE [DATA_DIR]  (needs numpy and safetensors from PyPI)
import gzip, sys
import numpy as np
from safetensors.numpy import load_file

D = (sys.argv[2] if len(sys.argv) > 2 else 'public/data/mnist') + '/'
def idx(name):
    b = gzip.open(D + name, 'rb').read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], 'big') for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)

xtr = idx('train-images-idx3-ubyte.gz').astype(np.float32)[:, None] / 255
ytr = idx('train-labels-idx1-ubyte.gz')
xte = idx('t10k-images-idx3-ubyte.gz').astype(np.float32)[:, None] / 255
yte = idx('t10k-labels-idx1-ubyte.gz')
W = {k: v.astype(np.float64) for k, v in load_file(sys.argv[1]).items()}

def conv(x, w, b, s):
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    oh, ow = -(-h // s), -(-wd // s)
    th, tw = max((oh - 1) * s + k - h, 0), max((ow - 1) * s + k - wd, 0)
    xp = np.pad(x, ((0, 0), (0, 0), (th // 2, th - th // 2), (tw // 2, tw - tw // 2)))
    cols = np.empty((n, c, k, k, oh, ow), x.dtype)
    for ky in range(k):
        for kx in range(k):
            cols[:, :, ky, kx] = xp[:, :, ky:ky + s * oh:s, kx:kx + s * ow:s]
    y = np.einsum('ncijhw,ocij->nohw', cols, w, optimize=True)
    return y + b[None, :, None, None]

SPEC = [(1, 2), (2, 2), (3, 2), (4, 2)]
def forward(x, stats, collect=None):
    """stats[i] = (mean, var) or None for batch statistics; collect gets the batch's."""
    for i, s in SPEC:
        x = conv(x, W[f'conv{i}.weight'], W[f'conv{i}.bias'], s)
        if i <= 3:
            if stats[i] is None:
                m, v = x.mean((0, 2, 3)), x.var((0, 2, 3))
                if collect is not None:
                    cnt = x.shape[0] * x.shape[2] * x.shape[3]
                    collect[i].append((m, v * cnt / (cnt - 1)))
            else:
                m, v = stats[i]
            x = (x - m[None, :, None, None]) / np.sqrt(v[None, :, None, None] + 1e-5)
            x = x * W[f'bn{i}.gamma'][None, :, None, None] + W[f'bn{i}.beta'][None, :, None, None]
        x = np.maximum(x, 0)
    x = x.reshape(x.shape[0], -1)
    dense = [k for k in W if k.endswith('.weight') and not k.startswith('conv')][0][:-7]
    return x @ W[dense + '.weight'] + W[dense + '.bias']

def acc(stats, x, y, bs=1000):
    return np.mean(np.concatenate([forward(x[i:i + bs].astype(np.float64), stats).argmax(1) for i in range(0, len(x), bs)]) == y)

running = {i: (W[f'bn{i}.running_mean'], W[f'bn{i}.running_var']) for i in (1, 2, 3)}
print('running statistics (what we report):', acc(running, xte, yte))
print('the whole test set\'s own statistics (stax, as the post evaluates):', acc({1: None, 2: None, 3: None}, xte, yte, bs=10000))
# Precise statistics: batch statistics in training mode, averaged over the training set.
coll = {1: [], 2: [], 3: []}
perm = np.random.RandomState(0).permutation(len(xtr))
for i in range(0, len(xtr), 128):
    forward(xtr[perm[i:i + 128]].astype(np.float64), {1: None, 2: None, 3: None}, coll)
precise = {i: (np.mean([m for m, _ in coll[i]], 0), np.mean([v for _, v in coll[i]], 0)) for i in (1, 2, 3)}
print('precise statistics over the training set:', acc(precise, xte, yte))
