"""Test-time adaptation and the paper's Table 2 evaluation protocol."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from mamlviz.core.algorithms import InnerLoop, inner_loop_for, sgd_steps, with_task_inputs
from mamlviz.core.checkpoint import Initialization
from mamlviz.core.config import EVAL_SEED, TaskConfig
from mamlviz.core.errors import ConfigError
from mamlviz.core.model import Params, expand_to_tasks, forward, mse_per_task
from mamlviz.core.tasks import TaskBatch, default_generator, query_grid, sample_tasks, sinusoid

DIVERGED_MSE = 1e6
"""A task whose MSE is non-finite or above this at any step counts as diverged."""


@dataclass(frozen=True)
class Adaptation:
    """Test-time adaptation of one initialization on one support set."""

    params: list[Params]
    """Parameters after 0, 1, ..., steps SGD updates (no task dimension)."""
    predictions: Tensor
    """(steps + 1, n_grid) predictions on the grid after each update."""
    support_loss: Tensor
    """(steps + 1,) support-set MSE after each update."""


def adapt(
    theta: Params,
    support_x: Tensor,
    support_y: Tensor,
    grid_x: Tensor,
    lr: float | InnerLoop,
    steps: int,
    task: tuple[float, float] | None = None,
) -> Adaptation:
    """Adapt θ with `steps` SGD steps on (support_x, support_y), both of shape (K, 1).

    `lr` is α or the init's `InnerLoop` (learned step sizes, ANIL's head-only adaptation); an
    oracle's loop needs the task's (amplitude, phase) as `task`.
    """
    loop = lr if isinstance(lr, InnerLoop) else InnerLoop(lr)
    with torch.no_grad():
        theta = {k: v.detach() for k, v in theta.items()}
        start = expand_to_tasks(theta, 1)
        x = support_x.to(next(iter(theta.values())))
        y = support_y.to(x)
        grid = grid_x.to(x)
        if loop.task_inputs:
            if task is None:
                raise ConfigError("the oracle needs the task's amplitude and phase.")
            x, grid = (torch.cat([v, v.new_tensor(task).expand(v.shape[0], 2)], 1) for v in (x, grid))
        trajectory = sgd_steps(start, x[None], y[None], loop.to(x), steps)
        stacked = {k: torch.cat([p[k] for p in trajectory]) for k in theta}
        n = len(trajectory)
        predictions = forward(stacked, grid.expand(n, *grid.shape))[..., 0]
        support_loss = mse_per_task(forward(stacked, x.expand(n, *x.shape)), y.expand(n, *y.shape))
    return Adaptation([{k: v[0] for k, v in p.items()} for p in trajectory], predictions, support_loss)


@dataclass(frozen=True)
class EvalCurve:
    """MSE after 0..steps updates over a set of tasks: mean, 95% half-interval, diverged count."""

    shots: int
    mean: list[float]
    ci95: list[float]
    n_tasks: int
    diverged: int

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def eval_tasks(cfg: TaskConfig, shots: int, n_tasks: int, seed: int, n_grid: int = 100) -> TaskBatch:
    """Fresh seeded tasks with `shots` support points and an evenly spaced query grid."""
    tasks = sample_tasks(dataclasses.replace(cfg, shots=shots, queries=1), n_tasks, default_generator(seed))
    grid = query_grid(cfg, n_grid).to(tasks.support_x.dtype).expand(n_tasks, n_grid, 1)
    amplitude, phase = tasks.amplitude[:, None, None], tasks.phase[:, None, None]
    return dataclasses.replace(tasks, query_x=grid, query_y=sinusoid(grid, amplitude, phase))


def mse_after_steps(
    theta: Params, tasks: TaskBatch, lr: float | InnerLoop, steps: int, at: Sequence[int] | None = None
) -> Tensor:
    """(steps + 1, T) query MSE of every task after 0..steps SGD updates from θ (α or an `InnerLoop`);
    with `at`, only after those step counts, (len(at), T) (the query forward is most of the cost)."""
    loop = lr if isinstance(lr, InnerLoop) else InnerLoop(lr)
    with torch.no_grad():
        like = next(iter(theta.values()))
        tasks = tasks.to(like.device)
        if loop.task_inputs:
            tasks = with_task_inputs(tasks)
        shared = expand_to_tasks({k: v.detach() for k, v in theta.items()}, tasks.support_x.shape[0])
        trajectory = sgd_steps(shared, tasks.support_x, tasks.support_y, loop.to(like), steps)
        kept = trajectory if at is None else [trajectory[step] for step in at]
        return torch.stack([mse_per_task(forward(p, tasks.query_x), tasks.query_y) for p in kept]).cpu()


def summarize(shots: int, mse: Tensor) -> EvalCurve:
    """Mean and 95% interval at each step over the tasks whose MSE is finite there.

    `diverged` counts the tasks that diverged at some step (non-finite or above DIVERGED_MSE).
    """
    mse = mse.double()
    ok = torch.isfinite(mse) & (mse < DIVERGED_MSE)
    n = ok.sum(1)
    kept = torch.where(ok, mse, 0.0)
    mean = kept.sum(1) / n
    variance = torch.where(ok, (mse - mean[:, None]) ** 2, 0.0).sum(1) / (n - 1).clamp(min=1)
    ci95 = 1.96 * variance.sqrt() / n.clamp(min=1).sqrt()
    return EvalCurve(shots, mean.tolist(), ci95.tolist(), int(mse.shape[1]), int((~ok).any(0).sum()))


def evaluate(
    theta: Params,
    cfg: TaskConfig,
    shots: int,
    steps: int,
    n_tasks: int = 600,
    lr: float | InnerLoop = 0.01,
    seed: int = 0,
) -> EvalCurve:
    """The paper's protocol: n_tasks fresh tasks, K support points, MSE on 100 grid points.

    `lr` is α or the init's `InnerLoop` (see `algorithms.inner_loop_for`)."""
    tasks = eval_tasks(cfg, shots, n_tasks, seed)
    theta = {k: v.to(tasks.support_x.dtype) for k, v in theta.items()}
    return summarize(shots, mse_after_steps(theta, tasks, lr, steps))


def evaluate_initialization(
    init: Initialization, shots: Sequence[int], steps: int, n_tasks: int = 600, lr: float = 0.01, seed: int = EVAL_SEED
) -> list[EvalCurve]:
    """`mamlviz eval` of a sinusoid initialization: one curve per K, adapting the init's own way
    (step size `lr` unless it learned its own; ANIL: the head only)."""
    loop = inner_loop_for(init.config, init.inner_lrs, lr, algo=init.algorithm)
    return [evaluate(init.params, init.config.task, k, steps, n_tasks, loop, seed) for k in shots]
