"""Omniglot N-way K-shot meta-iterations per second on CPU, one torch thread, one process:
batched (grouped convolution over the task dim, the mamlviz implementation) vs torch.func.vmap over
functional_call vs a per-task Python loop. Each iteration: sample-free meta-gradient + Adam step.

    python benchmarks/bench_omniglot.py [--ways 5 --shots 1 --queries 1 --meta-batch 32 --iters 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from mamlviz.core.data import default_generator
from mamlviz.core.omniglot.classification import ImagePool, maml_ce_loss, sample_classification_tasks
from mamlviz.core.omniglot.convnet import init_conv_params, make_convnet
from mamlviz.core.omniglot.data import OmniglotSplit


def per_task_loss(module, theta, batch, lr: float, steps: int, first_order: bool):
    """One task at a time through nn.Sequential with functional_call and autograd."""
    total = 0
    for t in range(batch.support_x.shape[0]):
        fast = dict(theta)
        for _ in range(steps):
            loss = F.cross_entropy(functional_call(module, fast, (batch.support_x[t],)), batch.support_y[t])
            grads = torch.autograd.grad(loss, list(fast.values()), create_graph=not first_order)
            fast = {k: v - lr * g for (k, v), g in zip(fast.items(), grads, strict=True)}
        total = total + F.cross_entropy(functional_call(module, fast, (batch.query_x[t],)), batch.query_y[t])
    return total / batch.support_x.shape[0]


def vmap_loss(module, theta, batch, lr: float, steps: int, first_order: bool):
    """torch.func: vmap over tasks of (inner grad steps, query loss)."""

    def support_loss(params, x, y):
        return F.cross_entropy(functional_call(module, params, (x,)), y)

    def task_loss(params, xs, ys, xq, yq):
        for _ in range(steps):
            g = grad(support_loss)(params, xs, ys)
            if first_order:
                g = {k: v.detach() for k, v in g.items()}
            params = {k: params[k] - lr * g[k] for k in params}
        return support_loss(params, xq, yq)

    losses = vmap(task_loss, in_dims=(None, 0, 0, 0, 0))(
        theta, batch.support_x, batch.support_y, batch.query_x, batch.query_y
    )
    return losses.mean()


def synthetic_pool(classes: int = 100) -> ImagePool:
    """Random 28×28 ink for `classes` characters of 20 drawings: the cost does not depend on the content."""
    rng = np.random.default_rng(0)
    images = (rng.random((classes, 20, 28, 28)) < 0.15).astype(np.uint8) * 255
    return ImagePool.from_split(OmniglotSplit(images, tuple(str(i) for i in range(classes))))


def time_iterations(step: Callable[[], None], iters: int) -> float:
    """Calls of `step` per second: the median of `iters` timed calls after one warm-up call."""
    step()  # warm-up
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1.0 / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ways", type=int, default=5)
    parser.add_argument("--shots", type=int, default=1)
    parser.add_argument("--queries", type=int, default=1)
    parser.add_argument("--meta-batch", type=int, default=32)
    parser.add_argument("--inner-steps", type=int, default=1)
    parser.add_argument("--iters", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    pool = synthetic_pool()
    generator = default_generator(0)
    theta = {k: v.requires_grad_(True) for k, v in init_conv_params(64, args.ways, generator).items()}
    optimizer = torch.optim.Adam(theta.values(), lr=1e-3)
    module = make_convnet(64, args.ways)
    lr, steps = 0.4, args.inner_steps

    def make_step(loss_fn: Callable, first_order: bool) -> Callable[[], None]:
        def step() -> None:
            batch = sample_classification_tasks(pool, args.ways, args.shots, args.queries, args.meta_batch, generator)
            optimizer.zero_grad()
            loss_fn(batch, first_order).backward()
            optimizer.step()

        return step

    implementations = {
        "batched (grouped conv)": lambda b, fo: maml_ce_loss(theta, b, lr, steps, first_order=fo)[0],
        "torch.func vmap": lambda b, fo: vmap_loss(module, theta, b, lr, steps, fo),
        "per-task loop": lambda b, fo: per_task_loss(module, theta, b, lr, steps, fo),
    }
    print(
        f"Omniglot {args.ways}-way {args.shots}-shot, {args.queries} queries/class, meta-batch {args.meta_batch}, "
        f"{steps} inner step(s), conv 4×64, 1 thread; meta-iterations/s (median of {args.iters})"
    )
    for first_order in (False, True):
        rates = {}
        for name, loss_fn in implementations.items():
            try:
                rates[name] = time_iterations(make_step(loss_fn, first_order), args.iters)
            except RuntimeError as exc:  # a torch.func limitation is a result too
                print(f"  {name}: failed ({str(exc).splitlines()[0]})")
        base = rates.get("per-task loop", float("nan"))
        label = "first-order MAML" if first_order else "MAML (second order)"
        for name, rate in rates.items():
            print(f"  {label:<20} {name:<24} {rate:6.2f} it/s   {rate / base:5.2f}× the per-task loop")


if __name__ == "__main__":
    main()
