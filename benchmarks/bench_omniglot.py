"""Omniglot N-way K-shot meta-iterations per second on CPU, one torch thread, one process, and each
variant's ratio to the grouped convolution over the task dim (the path before issue #15):

* grouped conv (groups = T) everywhere, as is, in channels-last memory format, or with oneDNN off;
* one convolution per task per layer;
* mamlviz: layers whose weights all tasks still share (θ, before the first inner step) as one ordinary
  convolution over all T·B images, grouped after it; also with a composite batch norm and with oneDNN off;
* torch.func.vmap over functional_call, and a per-task Python loop.

The machine may be shared and noisy, so variants alternate: each of --windows windows times every variant
(in a rotated order) for --iters iterations after one warm-up; the table holds the median over windows of
each variant's it/s and of its ratio to the grouped path in the same window. Each iteration: task sampling,
meta-gradient, Adam step.

    python benchmarks/bench_omniglot.py [--ways 5 --shots 1 --queries 1 --meta-batch 32 --iters 3 --windows 5]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from mamlviz.core.data import default_generator
from mamlviz.core.omniglot import classification
from mamlviz.core.omniglot.classification import ImagePool, maml_ce_loss, sample_classification_tasks
from mamlviz.core.omniglot.convnet import BLOCKS, BN_EPS, HEAD, conv_forward, init_conv_params, make_convnet
from mamlviz.core.omniglot.data import OmniglotSplit


def grouped_forward(params, x, layout: torch.memory_format = torch.contiguous_format, per_task: bool = False):
    """The forward before issue #15: every layer one grouped convolution over the task dim (groups = T),
    optionally in another memory format, or as one convolution per task (`per_task`)."""
    tasks, batch = x.shape[:2]
    h = x.transpose(0, 1).reshape(batch, tasks * x.shape[2], *x.shape[3:])
    for i in range(BLOCKS):
        weight, bias = params[f"{3 * i}.weight"], params[f"{3 * i}.bias"]
        if per_task:
            parts = h.chunk(tasks, 1)
            h = torch.cat([F.conv2d(p, weight[t], bias[t], stride=2, padding=1) for t, p in enumerate(parts)], 1)
        else:
            h = h.contiguous(memory_format=layout)
            h = F.conv2d(h, weight.flatten(0, 1), bias.flatten(), stride=2, padding=1, groups=tasks)
        gamma, beta = params[f"{3 * i + 1}.weight"].flatten(), params[f"{3 * i + 1}.bias"].flatten()
        h = torch.relu(F.batch_norm(h, None, None, gamma, beta, training=True, eps=BN_EPS))
    features = h.reshape(batch, tasks, -1).transpose(0, 1)
    head_w, head_b = params[f"{HEAD}.weight"], params[f"{HEAD}.bias"]
    return torch.baddbmm(head_b.unsqueeze(1), features, head_w.transpose(1, 2))


def composite_batch_norm(h, running_mean, running_var, weight, bias, training, eps):
    """F.batch_norm with batch statistics as a few elementwise ops (its double backward is autograd's own)."""
    var, mean = torch.var_mean(h, (0, 2, 3), correction=0, keepdim=True)
    scale = torch.rsqrt(var + eps) * weight.view(1, -1, 1, 1)
    return h * scale + (bias.view(1, -1, 1, 1) - mean * scale)


@contextlib.contextmanager
def patched(forward=None, batch_norm=None, mkldnn: bool = True) -> Iterator[None]:
    """Run maml_ce_loss with another conv forward, another batch norm inside mamlviz's forward, or oneDNN off."""
    saved = classification.conv_forward, F.batch_norm
    try:
        classification.conv_forward = forward or conv_forward
        F.batch_norm = batch_norm or F.batch_norm
        with torch.backends.mkldnn.flags(enabled=mkldnn):
            yield
    finally:
        classification.conv_forward, F.batch_norm = saved


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


BASE = "grouped conv (before #15)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ways", type=int, default=5)
    parser.add_argument("--shots", type=int, default=1)
    parser.add_argument("--queries", type=int, default=1)
    parser.add_argument("--meta-batch", type=int, default=32)
    parser.add_argument("--inner-steps", type=int, default=1)
    parser.add_argument("--iters", type=int, default=3, help="timed iterations of each variant per window")
    parser.add_argument("--windows", type=int, default=5, help="rounds over all variants, alternating them")
    parser.add_argument("--skip", nargs="*", default=[], help="leave out variants whose name contains any of these")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pool = synthetic_pool()
    generator = default_generator(0)
    theta = {k: v.requires_grad_(True) for k, v in init_conv_params(64, args.ways, generator).items()}
    optimizer = torch.optim.Adam(theta.values(), lr=1e-3)
    module = make_convnet(64, args.ways)
    lr, steps = 0.4, args.inner_steps

    def maml(**patch) -> Callable:
        def loss(batch, first_order: bool):
            with patched(**patch):
                return maml_ce_loss(theta, batch, lr, steps, first_order=first_order)[0]

        return loss

    variants = {
        BASE: maml(forward=grouped_forward),
        "grouped conv, channels_last": maml(forward=lambda p, x: grouped_forward(p, x, torch.channels_last)),
        "grouped conv, oneDNN off": maml(forward=grouped_forward, mkldnn=False),
        "one conv per task": maml(forward=lambda p, x: grouped_forward(p, x, per_task=True)),
        "mamlviz (fold at θ)": maml(),
        "fold at θ, composite BN": maml(batch_norm=composite_batch_norm),
        "fold at θ, oneDNN off": maml(mkldnn=False),
        "torch.func vmap": lambda b, fo: vmap_loss(module, theta, b, lr, steps, fo),
        "per-task loop": lambda b, fo: per_task_loss(module, theta, b, lr, steps, fo),
    }
    variants = {k: v for k, v in variants.items() if k == BASE or not any(s in k for s in args.skip)}

    def make_step(loss_fn: Callable, first_order: bool) -> Callable[[], None]:
        def step() -> None:
            batch = sample_classification_tasks(pool, args.ways, args.shots, args.queries, args.meta_batch, generator)
            optimizer.zero_grad()
            loss_fn(batch, first_order).backward()
            optimizer.step()

        return step

    print(
        f"Omniglot {args.ways}-way {args.shots}-shot, {args.queries} queries/class, meta-batch {args.meta_batch}, "
        f"{steps} inner step(s), conv 4×64, 1 thread; meta-iterations/s and ratio to the grouped conv "
        f"(medians over {args.windows} alternating windows of {args.iters} iterations)"
    )
    for first_order in (False, True):
        rates: dict[str, list[float]] = {name: [] for name in variants}
        ratios: dict[str, list[float]] = {name: [] for name in variants}
        failed: dict[str, str] = {}
        names = list(variants)
        for window in range(args.windows):
            shift = window % len(names)
            measured = {}
            for name in names[shift:] + names[:shift]:
                if name in failed:
                    continue
                try:
                    measured[name] = time_iterations(make_step(variants[name], first_order), args.iters)
                except RuntimeError as exc:  # a torch.func limitation is a result too
                    failed[name] = str(exc).splitlines()[0]
            for name, rate in measured.items():
                rates[name].append(rate)
                ratios[name].append(rate / measured[BASE])
        label = "first-order MAML" if first_order else "MAML (second order)"
        for name in names:
            if name in failed:
                print(f"  {label:<20} {name:<28} failed ({failed[name]})")
                continue
            rate, ratio = statistics.median(rates[name]), statistics.median(ratios[name])
            spread = f"{min(ratios[name]):.2f}–{max(ratios[name]):.2f}"
            print(f"  {label:<20} {name:<28} {rate:6.2f} it/s   {ratio:5.2f}× the grouped conv  (windows {spread})")


if __name__ == "__main__":
    main()
