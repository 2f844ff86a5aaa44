"""The paper's Table 2 evaluation protocol for sinusoid regression: fresh seeded tasks, K support points,
MSE on an evenly spaced grid after 0..steps updates."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

from mamlviz.core.algorithms import InnerLoop
from mamlviz.core.checkpoint import Initialization
from mamlviz.core.config import EVAL_SEED, SETTING_LIMITS, TaskConfig
from mamlviz.core.data import TaskBatch, default_generator
from mamlviz.core.evaluate import EvalCurve, check_evaluation, mse_after_steps, summarize
from mamlviz.core.model import Params
from mamlviz.core.sinusoid.tasks import query_grid, sample_tasks, sinusoid


def eval_tasks(cfg: TaskConfig, shots: int, n_tasks: int, seed: int, n_grid: int = 100) -> TaskBatch:
    """Fresh seeded tasks with `shots` support points and an evenly spaced query grid."""
    tasks = sample_tasks(dataclasses.replace(cfg, shots=shots, queries=1), n_tasks, default_generator(seed))
    grid = query_grid(cfg, n_grid).to(tasks.support_x.dtype).expand(n_tasks, n_grid, 1)
    amplitude, phase = tasks.amplitude[:, None, None], tasks.phase[:, None, None]
    return dataclasses.replace(tasks, query_x=grid, query_y=sinusoid(grid, amplitude, phase))


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

    `lr` is α or the init's `InnerLoop` (see `algorithms.inner_loop_for`). The tasks are adapted in chunks
    that keep `SETTING_LIMITS['task_parameters']` numbers at most (a large network is evaluated, not refused)."""
    parameters = sum(v.numel() for v in theta.values())
    check_evaluation(n_tasks, steps, [shots], parameters, chunk=1)
    chunk = max(1, SETTING_LIMITS["task_parameters"][1] // ((steps + 1) * parameters))
    tasks = eval_tasks(cfg, shots, n_tasks, seed)
    theta = {k: v.to(tasks.support_x.dtype) for k, v in theta.items()}
    if chunk >= n_tasks:
        return summarize(shots, mse_after_steps(theta, tasks, lr, steps))
    parts = [
        mse_after_steps(theta, TaskBatch(*(getattr(tasks, f)[start : start + chunk] for f in FIELDS)), lr, steps)
        for start in range(0, n_tasks, chunk)
    ]
    return summarize(shots, torch.cat(parts, 1))


FIELDS = tuple(TaskBatch.__dataclass_fields__)


def evaluate_initialization(
    init: Initialization, shots: Sequence[int], steps: int, n_tasks: int = 600, lr: float = 0.01, seed: int = EVAL_SEED
) -> list[EvalCurve]:
    """`mamlviz eval` of a sinusoid initialization: one curve per K, adapting the init's own way
    (step size `lr` unless it learned its own; ANIL: the head only)."""
    loop = init.inner_loop(lr)
    return [evaluate(init.params, init.config.task, k, steps, n_tasks, loop, seed) for k in shots]
