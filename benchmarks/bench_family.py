"""Meta-iterations per second of every algorithm: batched core vs a per-task clone-and-adapt loop.

Paper config (MLP 1-40-40-1, meta-batch 25, K = 10, α = 0.01, Adam 1e-3), one thread, both
implementations measured back to back in this process on the same pre-sampled batches.
The loop references (plain autograd per task, as learn2learn-style code does it) live here only.

    python benchmarks/bench_family.py [--rounds 3]     (PYTHONPATH=. from a checkout that is not the installed one)
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
from torch.nn import functional as F

from mamlviz.core.algorithms import initial_inner_lrs, inner_loop_for, msl_weights, with_task_inputs
from mamlviz.core.config import ModelConfig, TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.model import init_params
from mamlviz.core.sinusoid.tasks import sample_tasks
from mamlviz.core.train import MSL_FRACTION, Learner

CASES = {
    "maml": TrainConfig(),
    "fomaml": TrainConfig(algo="fomaml"),
    "anil": TrainConfig(algo="anil"),
    "metasgd": TrainConfig(algo="metasgd"),
    "reptile (5 steps)": TrainConfig(algo="reptile", inner_steps=5),
    "maml (5 steps)": TrainConfig(inner_steps=5),
    "maml++ msl+lslr (5 steps)": TrainConfig(inner_steps=5, msl=True, lslr=True),
    "oracle": TrainConfig(algo="oracle", model=ModelConfig(in_features=3)),
    "pretrained": TrainConfig(algo="pretrained"),
}


def net(params, x):
    names = [name for name in params if name.endswith(".weight")]
    for i, w in enumerate(names):
        x = F.linear(x, params[w], params[w.replace("weight", "bias")])
        x = torch.relu(x) if i < len(names) - 1 else x
    return x


class LoopLearner:
    """The same algorithm as `Learner`, one task at a time (clone θ, adapt, accumulate the meta-gradient)."""

    def __init__(self, algo: str, cfg: TrainConfig, theta) -> None:
        self.algo, self.cfg = algo, cfg
        self.theta = {k: v.clone().requires_grad_(True) for k, v in theta.items()}
        self.lrs = {k: v.clone().requires_grad_(True) for k, v in initial_inner_lrs(algo, cfg, self.theta).items()}
        variables = [*self.theta.values(), *self.lrs.values()]
        reptile = algo == "reptile"
        self.optimizer = (
            torch.optim.SGD(variables, cfg.epsilon) if reptile else torch.optim.Adam(variables, cfg.meta_lr)
        )

    def adapt(self, x, y, *, first_order: bool, steps_out: list | None = None, query=None):
        cfg, params = self.cfg, dict(self.theta)
        names = list(inner_loop_for(cfg, algo=self.algo).adapted or params)
        for step in range(cfg.inner_steps):
            loss = F.mse_loss(net(params, x), y)
            grads = torch.autograd.grad(loss, [params[k] for k in names], create_graph=not first_order)
            for k, g in zip(names, grads, strict=True):
                lr = self.lrs[k][min(step, self.lrs[k].shape[0] - 1)] if k in self.lrs else cfg.inner_lr
                params[k] = params[k] - lr * g
            if steps_out is not None:
                steps_out.append(F.mse_loss(net(params, query[0]), query[1]))
        return params

    def step(self, batch, iteration: int) -> None:
        cfg, algo = self.cfg, self.algo
        self.optimizer.zero_grad()
        n = batch.support_x.shape[0]
        if algo == "oracle":
            batch = with_task_inputs(batch)
        for t in range(n):
            sx, sy, qx, qy = batch.support_x[t], batch.support_y[t], batch.query_x[t], batch.query_y[t]
            if algo in ("pretrained", "oracle"):
                (F.mse_loss(net(self.theta, torch.cat([sx, qx])), torch.cat([sy, qy])) / n).backward()
            elif algo == "reptile":
                x, y = torch.cat([sx, qx]), torch.cat([sy, qy])
                phi = self.adapt(x, y, first_order=True)
                for k, v in self.theta.items():
                    v.grad = (v.grad if v.grad is not None else 0) + (v - phi[k]).detach() / n
            else:
                losses: list = []
                self.adapt(sx, sy, first_order=algo == "fomaml", steps_out=losses, query=(qx, qy))
                if cfg.msl:
                    weights = msl_weights(cfg.inner_steps, iteration, cfg.iterations // MSL_FRACTION)
                    loss = sum(w * loss for w, loss in zip(weights.float(), losses, strict=True))
                else:
                    loss = losses[-1]
                (loss / n).backward()
        self.optimizer.step()


def rate(step, batches, iterations: int) -> float:
    start = time.perf_counter()
    for i in range(iterations):
        step(batches[i % len(batches)], i + 1)
    return iterations / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0, help="rough time per measurement")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread; meta-iterations per second, median of {args.rounds} rounds")
    print(f"{'algorithm':<28} {'batched':>9} {'per-task loop':>14} {'ratio':>7}  relative meta-gradient difference")
    for name, cfg in CASES.items():
        cfg = dataclasses.replace(cfg, iterations=1000)
        theta = init_params(cfg.model, default_generator(0))
        generator = default_generator(1)
        batches = [sample_tasks(cfg.task, cfg.meta_batch, generator) for _ in range(8)]
        batched = Learner(cfg.algo, cfg, theta, torch.device("cpu"))
        loop = LoopLearner(cfg.algo, cfg, theta)
        batched.step(batches[0], 1), loop.step(batches[0], 1)
        pairs = [(batched.theta[k].grad, loop.theta[k].grad) for k in theta]
        agree = max(float((a - b).abs().max() / b.abs().max()) for a, b in pairs)
        rate(batched.step, batches, 3), rate(loop.step, batches, 2)  # warm-up
        n_batched = max(5, int(args.seconds * rate(batched.step, batches, 5)))
        n_loop = max(2, int(args.seconds * rate(loop.step, batches, 2)))
        fast, slow = [], []
        for _ in range(args.rounds):
            fast.append(rate(batched.step, batches, n_batched))
            slow.append(rate(loop.step, batches, n_loop))
        f, s = statistics.median(fast), statistics.median(slow)
        print(f"{name:<28} {f:>9.1f} {s:>14.1f} {f / s:>6.1f}x  {agree:.1e}", flush=True)


if __name__ == "__main__":
    main()
