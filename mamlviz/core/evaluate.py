"""Test-time adaptation of an MLP initialization and the metrics over test tasks (mean, 95% interval, diverged)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from mamlviz.core.algorithms import InnerLoop, sgd_steps, with_task_inputs
from mamlviz.core.config import check_setting, check_task_memory
from mamlviz.core.data import TaskBatch
from mamlviz.core.errors import ConfigError
from mamlviz.core.model import Params, expand_to_tasks, forward, mse_per_task

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


def check_evaluation(
    tasks: int, steps: int, shots: Iterable[int] = (), parameters: int = 0, chunk: int | None = None
) -> None:
    """The bounds of an evaluation (`SETTING_LIMITS`: test tasks, adaptation steps, shots, and the memory of
    `min(tasks, chunk)` tasks × (steps + 1) parameter copies), checked before anything is allocated."""
    check_setting("eval_tasks", tasks, "the number of test tasks")
    check_setting("eval_steps", steps, "the number of adaptation steps")
    for k in shots:
        check_setting("shots", k, "shots")
    if parameters:
        check_task_memory(min(tasks, chunk or tasks), steps, parameters, "evaluation")


def file_column_width(files: Iterable[str]) -> int:
    """Width of an evaluation table's file column: the longest file name shown in full (at least 28)."""
    return max(28, *(len(Path(file).name) for file in files))
