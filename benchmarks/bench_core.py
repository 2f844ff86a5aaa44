"""Meta-iterations per second: batched mamlviz vs a straightforward per-task loop, same process.

Paper config (MLP 1-40-40-1, meta-batch 25, K = 10, α = 0.01, Adam 1e-3), 1 torch thread.
The loop is the learn2learn way: for each task, adapt a copy of θ with autograd
(create_graph for second order), accumulate the query loss, one backward, one Adam step.

    python benchmarks/bench_core.py [--seconds 3] [--full]

--full also times a whole 70,000-iteration MAML run through `Trainer`.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from mamlviz.core.config import TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.model import init_params
from mamlviz.core.sinusoid.tasks import sample_tasks
from mamlviz.core.train import Learner, Trainer, gradient_for


def loop_meta_step(theta, optimizer, batch, lr, steps, first_order):
    """One meta-iteration with a Python loop over tasks (the reference we compare against)."""
    names = list(theta)

    def net(params, x):
        h = F.relu(F.linear(x, params["0.weight"], params["0.bias"]))
        h = F.relu(F.linear(h, params["2.weight"], params["2.bias"]))
        return F.linear(h, params["4.weight"], params["4.bias"])

    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for t in range(batch.support_x.shape[0]):
        params = dict(theta)
        for _ in range(steps):
            loss = F.mse_loss(net(params, batch.support_x[t]), batch.support_y[t])
            grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=not first_order)
            params = {n: params[n] - lr * g for n, g in zip(names, grads, strict=True)}
        total = total + F.mse_loss(net(params, batch.query_x[t]), batch.query_y[t])
    (total / batch.support_x.shape[0]).backward()
    optimizer.step()


def rate(step, seconds: float) -> float:
    for _ in range(5):
        step()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        done += 1
    return done / (time.perf_counter() - start)


def measure(algo: str, steps: int, seconds: float, compile: bool) -> tuple[float, float]:
    cfg = TrainConfig(algo=algo, inner_steps=steps)
    gen = default_generator(0)
    batches = [sample_tasks(cfg.task, cfg.meta_batch, gen) for _ in range(16)]
    learner = Learner(algo, cfg, init_params(cfg.model, gen), torch.device("cpu"), gradient_for(algo, cfg, compile))
    counter = iter(range(10**9))

    def batched():
        learner.step(batches[next(counter) % 16], 1)

    theta = {k: v.clone().requires_grad_(True) for k, v in init_params(cfg.model, gen).items()}
    optimizer = torch.optim.Adam(theta.values(), lr=cfg.meta_lr)

    def looped():
        loop_meta_step(theta, optimizer, batches[next(counter) % 16], cfg.inner_lr, steps, algo == "fomaml")

    return rate(batched, seconds), rate(looped, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="timing window per measurement")
    parser.add_argument("--full", action="store_true", help="also time a full 70k-iteration MAML run")
    parser.add_argument("--compile", action="store_true", help="batched path compiled ahead of time (as --compile)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    mode = "compiled (AOTInductor)" if args.compile else "eager"
    print(f"torch {torch.__version__}, 1 thread, paper config, batched {mode}, {args.seconds:.0f} s per measurement")
    print(f"{'algorithm':<22}{'batched it/s':>14}{'loop it/s':>12}{'ratio':>9}")
    for algo, steps in (("maml", 1), ("maml", 5), ("fomaml", 1)):
        batched, looped = measure(algo, steps, args.seconds, args.compile)
        print(f"{f'{algo}, {steps} inner step(s)':<22}{batched:>14.1f}{looped:>12.1f}{batched / looped:>8.1f}x")
    if args.full:
        trainer = Trainer(TrainConfig(val_every=10_000), compile=args.compile)
        start = time.perf_counter()
        for _ in trainer.iterate():
            pass
        print(f"full 70,000-iteration MAML run: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
