"""Qt-free glue for the playground: adapt named initializations on user points into numpy curves.

The desktop app (and anything else) passes numpy points in and gets numpy curves out, so no
torch math lives in widgets. Several initializations are adapted side by side, keyed by name.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from mamlviz.core.algorithms import InnerLoop, sgd_steps
from mamlviz.core.config import TaskConfig
from mamlviz.core.data import Truth, check_points, default_generator
from mamlviz.core.errors import ConfigError
from mamlviz.core.model import Params, forward, mse_per_task
from mamlviz.core.sinusoid.tasks import sample_tasks

PAPER_TABLE2_5SHOT = {"maml": {1: 0.67, 5: 0.38, 10: 0.35}, "pretrained": {1: 2.41, 5: 2.23, 10: 2.19}}
"""Finn et al. 2017, Table 2: 5-shot sinusoid MSE after 1, 5 and 10 gradient steps."""


@dataclass(frozen=True)
class ModelCurves:
    """One initialization adapted on the support points."""

    predictions: np.ndarray
    """(steps + 1, G) predictions on the grid after 0..steps updates; a single row without points."""
    support_loss: np.ndarray
    """(steps + 1,) MSE on the support points (empty without points)."""
    true_mse: np.ndarray | None
    """(steps + 1,) MSE against the truth on the grid, when a truth is set."""

    @property
    def steps(self) -> int:
        return self.predictions.shape[0] - 1

    @property
    def diverged(self) -> bool:
        return not bool(np.isfinite(self.predictions).all())


def adapt_all(
    inits: Mapping[str, Params],
    points: np.ndarray,
    grid: np.ndarray,
    lr: float,
    steps: int,
    truth: Truth | None = None,
    loops: Mapping[str, InnerLoop] | None = None,
) -> dict[str, ModelCurves]:
    """Adapt every initialization with `steps` SGD steps (rate `lr`) on the (K, 2) points.

    `loops[name]` says how an init adapts (ANIL: the head only; Meta-SGD, MAML++ LSLR: its learned
    step sizes, which take precedence over `lr`); without one, plain SGD on every parameter.
    Initializations of the same architecture and loop are stacked along the task dimension and adapted
    in one batched call (one click adapts every listed model at once).
    """
    points = check_points(points)
    if not (math.isfinite(lr) and lr > 0) or steps < 0:
        raise ConfigError(f"adaptation needs a positive learning rate and steps >= 0, got {lr}, {steps}.")
    loops = loops or {}
    if any(loops[name].task_inputs for name in inits if name in loops):
        raise ConfigError("an initialization that needs the task's amplitude and phase (the oracle) cannot adapt here.")
    target = truth(grid) if truth is not None else None
    groups: dict[tuple, list[str]] = {}
    for name, theta in inits.items():
        loop = loops.get(name, InnerLoop())
        signature = tuple((k, tuple(v.shape), v.dtype, v.device) for k, v in theta.items())
        groups.setdefault((signature, loop.adapted, name if loop.learned_lrs else None), []).append(name)
    curves: dict[str, ModelCurves] = {}
    for names in groups.values():
        stacked = {k: torch.stack([inits[n][k].detach() for n in names]) for k in inits[names[0]]}
        loop = dataclasses.replace(loops.get(names[0], InnerLoop()), lr=lr)
        predictions, support_loss = _adapt_batch(stacked, points, grid, loop, steps if len(points) else 0)
        for i, name in enumerate(names):
            true_mse = None if target is None else ((predictions[:, i] - target) ** 2).mean(axis=1)
            curves[name] = ModelCurves(predictions[:, i], support_loss[:, i] if len(points) else np.zeros(0), true_mse)
    return {name: curves[name] for name in inits}


def _adapt_batch(
    theta: Params, points: np.ndarray, grid: np.ndarray, lr: float | InnerLoop, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """θ with a leading model dimension M: (steps + 1, M, G) predictions and (steps + 1, M) support MSE."""
    reference = next(iter(theta.values()))
    n_models = reference.shape[0]
    as_tensor = partial(torch.as_tensor, dtype=reference.dtype, device=reference.device)
    grid_x = as_tensor(grid).reshape(1, -1, 1)
    with torch.no_grad():
        xy = as_tensor(points).expand(n_models, -1, -1)
        x, y = xy[..., :1], xy[..., 1:]
        loop = lr.to(reference) if isinstance(lr, InnerLoop) else lr
        trajectory = sgd_steps(theta, x, y, loop, steps) if len(points) else [theta]
        every = {k: torch.cat([p[k] for p in trajectory]) for k in theta}
        total = every[next(iter(every))].shape[0]
        predictions = forward(every, grid_x.expand(total, -1, -1))[..., 0].reshape(len(trajectory), n_models, -1)
        if len(points):
            support = mse_per_task(forward(every, x.repeat(len(trajectory), 1, 1)), y.repeat(len(trajectory), 1, 1))
        else:
            support = torch.zeros(total)
    return predictions.cpu().double().numpy(), support.reshape(len(trajectory), n_models).cpu().double().numpy()


def random_truth(task: TaskConfig, rng: np.random.Generator) -> Truth:
    """A task drawn from the training distribution (amplitude and phase ranges of `task`)."""
    return Truth(float(rng.uniform(*task.amplitude)), float(rng.uniform(*task.phase)))


def sample_points(truth: Truth, k: int, x_range: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """K support points with uniform x on the true curve, shape (K, 2)."""
    x = rng.uniform(*x_range, size=k)
    return np.stack([x, truth(x)], axis=1)


@dataclass(frozen=True)
class Probe:
    """A fixed task used to show how the initialization being trained adapts."""

    truth: Truth
    points: np.ndarray
    grid: np.ndarray


def make_probe(task: TaskConfig, shots: int, seed: int = 2017, n_grid: int = 200) -> Probe:
    """A seeded task from the training distribution with `shots` support points."""
    batch = sample_tasks(TaskConfig(task.amplitude, task.phase, task.x_range, shots, 1), 1, default_generator(seed))
    points = torch.cat([batch.support_x[0], batch.support_y[0]], dim=1).double().numpy()
    truth = Truth(float(batch.amplitude[0]), float(batch.phase[0]))
    return Probe(truth, points, np.linspace(*task.x_range, n_grid))


def probe_fit(theta: Params, probe: Probe, lr: float, steps: int) -> np.ndarray:
    """(3, G) probe predictions before adaptation, after 1 step and after `steps` steps."""
    predictions, _ = _adapt_batch({k: v[None] for k, v in theta.items()}, probe.points, probe.grid, lr, max(steps, 1))
    return predictions[[0, 1, -1], 0]
