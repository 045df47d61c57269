#!/usr/bin/env python3
"""JAX baseline for issue 6: the tutorial CNN trained with a jit-compiled Adam step.

The same network as the engine (see ../shared/golden/README.md): 4 SAME-padded stride-2
convolutions, BatchNorm with batch statistics on the first three, ReLU, dense 40->10,
log-softmax, mean cross-entropy, Adam(1e-3), batch 128. The training set stays on the
device as u8 and each step gathers its batch there, as ours does.

Two ways of driving it, each for the given number of epochs:
  step: a Python loop calling the jitted step (the tutorial's way);
  scan: one jitted lax.scan per epoch (no Python between steps).
and two matmul precisions: XLA's default (TF32 on tensor cores on Ampere and later) and
"highest" (true float32, like our kernels).

Usage: python3 scripts/jax_bench.py [--epochs 10] [--data public/data/mnist] [--seeds 0,1,2]
Prints one JSON line per configuration.
"""

import argparse
import gzip
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

BATCH = 128
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8
CONVS = [(32, 1, 5), (32, 32, 5), (10, 32, 3), (10, 10, 3)]  # (out, in, kernel), stride 2


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def init_params(key):
    params = {}
    for i, (o, c, k) in enumerate(CONVS, 1):
        key, sub = jax.random.split(key)
        params[f"conv{i}.weight"] = jax.random.normal(sub, (o, c, k, k)) * np.sqrt(2.0 / (c * k * k))
        params[f"conv{i}.bias"] = jnp.zeros((o,))
    for i, (o, _, _) in enumerate(CONVS[:3], 1):
        params[f"bn{i}.gamma"] = jnp.ones((o,))
        params[f"bn{i}.beta"] = jnp.zeros((o,))
    key, sub = jax.random.split(key)
    params["dense.weight"] = jax.random.normal(sub, (40, 10)) * np.sqrt(1.0 / 40)
    params["dense.bias"] = jnp.zeros((10,))
    return params


def forward(params, x):
    for i in range(1, 5):
        x = jax.lax.conv_general_dilated(x, params[f"conv{i}.weight"], (2, 2), "SAME", dimension_numbers=("NCHW", "OIHW", "NCHW"))
        x = x + params[f"conv{i}.bias"][None, :, None, None]
        if i < 4:
            mean = x.mean(axis=(0, 2, 3), keepdims=True)
            var = ((x - mean) ** 2).mean(axis=(0, 2, 3), keepdims=True)
            x = (x - mean) / jnp.sqrt(var + 1e-5)
            x = x * params[f"bn{i}.gamma"][None, :, None, None] + params[f"bn{i}.beta"][None, :, None, None]
        x = jax.nn.relu(x)
    x = x.reshape(x.shape[0], -1) @ params["dense.weight"] + params["dense.bias"]
    return jax.nn.log_softmax(x)


def loss_fn(params, x, y):
    logp = forward(params, x)
    return -jnp.take_along_axis(logp, y[:, None], axis=1).mean(), logp


def make_step(images, labels):
    """One Adam step on the batch at position `i` of the permutation `perm`."""

    def step(state, perm, i):
        params, m, v, t = state
        idx = jax.lax.dynamic_slice(perm, (i * BATCH,), (BATCH,))
        x = images[idx].astype(jnp.float32)[:, None, :, :] / 255.0
        y = labels[idx]
        (loss, logp), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, y)
        t = t + 1
        m = jax.tree.map(lambda a, g: B1 * a + (1 - B1) * g, m, grads)
        v = jax.tree.map(lambda a, g: B2 * a + (1 - B2) * g * g, v, grads)
        bc1, bc2 = 1 - B1**t, 1 - B2**t
        params = jax.tree.map(lambda p, a, b: p - LR * (a / bc1) / (jnp.sqrt(b / bc2) + EPS), params, m, v)
        acc = (logp.argmax(axis=1) == y).mean()
        return (params, m, v, t), (loss, acc)

    return step


def evaluate(params, images, labels):
    correct = 0
    fwd = jax.jit(forward)
    for s in range(0, len(labels), 1000):
        x = jnp.asarray(images[s : s + 1000], jnp.float32)[:, None] / 255.0
        correct += int((fwd(params, x).argmax(axis=1) == jnp.asarray(labels[s : s + 1000])).sum())
    return correct / len(labels)


def run(mode, precision, epochs, train, test, seed=0):
    images = jnp.asarray(train[0])
    labels = jnp.asarray(train[1].astype(np.int32))
    steps_per_epoch = len(train[1]) // BATCH
    params = init_params(jax.random.PRNGKey(seed))
    zeros = jax.tree.map(jnp.zeros_like, params)
    state = (params, zeros, zeros, jnp.float32(0))
    step = make_step(images, labels)
    perms = [jnp.asarray(np.random.default_rng(seed * 1000 + e).permutation(len(train[1])).astype(np.int32)) for e in range(epochs)]
    with jax.default_matmul_precision(precision):
        if mode == "step":
            jstep = jax.jit(step)
            t0 = time.perf_counter()
            warm, _ = jstep(state, perms[0], 0)
            jax.block_until_ready(warm)
            compile_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            for e in range(epochs):
                for i in range(steps_per_epoch):
                    state, metrics = jstep(state, perms[e], i)
            jax.block_until_ready(state)
        else:
            def epoch_fn(state, perm):
                return jax.lax.scan(lambda s, i: step(s, perm, i), state, jnp.arange(steps_per_epoch))

            jepoch = jax.jit(epoch_fn)
            t0 = time.perf_counter()
            compiled = jepoch.lower(state, perms[0]).compile()
            compile_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            for e in range(epochs):
                state, metrics = compiled(state, perms[e])
            jax.block_until_ready(state)
        seconds = time.perf_counter() - t0
    steps = epochs * steps_per_epoch
    return {
        "system": f"jax {jax.__version__}",
        "mode": mode,
        "seed": seed,
        "precision": precision,
        "device": str(jax.devices()[0].device_kind),
        "epochs": epochs,
        "steps": steps,
        "train_seconds": round(seconds, 3),
        "images_per_s": round(steps * BATCH / seconds, 1),
        "compile_seconds": round(compile_s, 2),
        "test_accuracy": evaluate(state[0], *test),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--data", default="public/data/mnist")
    ap.add_argument("--modes", default="step,scan")
    ap.add_argument("--precisions", default="default,highest")
    ap.add_argument("--seeds", default="0", help="comma-separated; each seed sets the initial weights and the shuffles")
    args = ap.parse_args()
    d = args.data
    train = (read_idx(os.path.join(d, "train-images-idx3-ubyte.gz")), read_idx(os.path.join(d, "train-labels-idx1-ubyte.gz")))
    test = (read_idx(os.path.join(d, "t10k-images-idx3-ubyte.gz")), read_idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz")))
    for seed in map(int, args.seeds.split(",")):
        for precision in args.precisions.split(","):
            for mode in args.modes.split(","):
                print(json.dumps(run(mode, precision, args.epochs, train, test, seed)), flush=True)


if __name__ == "__main__":
    main()
