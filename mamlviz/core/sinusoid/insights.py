"""Qt-free glue for the insights panel: the family diagnostics on named initializations, as numpy results.

Each function picks every initialization's own inner loop (ANIL's head-only adaptation, learned step
sizes, the oracle's task inputs), skips the ones a measurement cannot handle (with the reason), and
uses fixed seeded tasks and grids small enough to run in well under two seconds on one CPU thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from mamlviz.core.algorithms import InnerLoop, inner_loop_for
from mamlviz.core.checkpoint import Initialization
from mamlviz.core.config import TrainConfig
from mamlviz.core.data import TaskBatch, default_generator
from mamlviz.core.model import Params
from mamlviz.core.sinusoid import diagnostics
from mamlviz.core.sinusoid.tasks import sample_tasks

SHOTS = 5
"""Support points per task in the stability, task-map and α-sensitivity measurements (the paper's 5-shot)."""
STABILITY_TASKS = 25
STABILITY_STEPS = 10
MAP_CELLS = 20
MAP_DRAWS = 4
"""Support sets drawn per task-map cell; the cell shows their median MSE (one draw makes a noisy map)."""
"""The task map has MAP_CELLS × MAP_CELLS (amplitude, phase) cells."""
ALPHAS = np.logspace(-3, 0, 10)
"""Step sizes from 0.001 to 1, three per decade (0.01 and 0.1 among them)."""
SENSITIVITY_STEPS = 10
SENSITIVITY_TASKS = 100
SEED = 0


@dataclass(frozen=True)
class Comparison:
    """One measurement per initialization (`values[name]`) and the initializations skipped, with the reason."""

    values: dict[str, np.ndarray]
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskMap:
    """Post-adaptation MSE of one initialization over an (amplitude, phase) grid."""

    amplitudes: np.ndarray
    phases: np.ndarray
    mse: np.ndarray
    """(len(amplitudes), len(phases))."""


def inner_loop(init: Initialization, lr: float | None = None) -> InnerLoop:
    """How `init` adapts, with step size `lr` (None: its training α) where it has no learned ones."""
    return init.inner_loop(lr)


def unsupported(init: Initialization, *, on_points: bool = False) -> str | None:
    """Why a sinusoid measurement cannot use `init` (None if it can); `on_points`: adaptation on bare (x, y)."""
    if init.config.domain != "sinusoid":
        return "not a sinusoid regressor"
    if on_points and inner_loop(init).task_inputs:
        return "needs the task's amplitude and phase"
    return None


def _split(inits: Mapping[str, Initialization], *, on_points: bool = False) -> tuple[dict, dict[str, str]]:
    """The initializations a measurement can use, and the skipped ones with the reason."""
    reasons = {name: unsupported(init, on_points=on_points) for name, init in inits.items()}
    usable = {name: inits[name] for name, reason in reasons.items() if reason is None}
    return usable, {name: reason for name, reason in reasons.items() if reason is not None}


def support_batch(points: np.ndarray, like: torch.Tensor) -> TaskBatch:
    """The user's (K, 2) support points as a 1-task batch (query = support; amplitude and phase unknown: 0)."""
    xy = torch.as_tensor(np.asarray(points, dtype=np.float64).reshape(-1, 2)).to(like)[None]
    x, y = xy[..., :1], xy[..., 1:]
    zero = like.new_zeros(1)
    return TaskBatch(x, y, x, y, zero, zero)


def feature_reuse(
    inits: Mapping[str, Initialization], points: np.ndarray, lr: float, steps: int
) -> tuple[list[str], Comparison]:
    """Layer labels and the relative weight change of each layer after `steps` steps on the points."""
    usable, skipped = _split(inits, on_points=True)
    labels = diagnostics.layer_labels(next(iter(usable.values())).params) if usable else []
    changes = {}
    for name, init in usable.items():
        if diagnostics.layer_labels(init.params) != labels:
            skipped[name] = "has other layers"
            continue
        batch = support_batch(points, next(iter(init.params.values())))
        changes[name] = diagnostics.weight_change(init.params, batch, inner_loop(init, lr), steps)
    return labels, Comparison(changes, skipped)


def stability_batch(cfg: TrainConfig) -> TaskBatch:
    """The fixed seeded meta-batch of the stability measurement."""
    return sample_tasks(dataclasses.replace(cfg.task, shots=SHOTS), STABILITY_TASKS, default_generator(SEED))


def stability(inits: Mapping[str, Initialization], lr: float) -> Comparison:
    """Meta-gradient norm with 1…STABILITY_STEPS inner steps of size `lr` on a fixed meta-batch."""
    usable, skipped = _split(inits)
    norms = {
        name: diagnostics.meta_gradient_norms(
            init.params, stability_batch(init.config), inner_loop(init, lr), STABILITY_STEPS
        )
        for name, init in usable.items()
    }
    return Comparison(norms, skipped)


def task_map(init: Initialization, lr: float, steps: int) -> TaskMap:
    """Median MSE over MAP_DRAWS support sets of SHOTS points after `steps` steps, for each cell of a
    MAP_CELLS × MAP_CELLS task grid."""
    reason = unsupported(init)
    if reason is not None:
        raise ValueError(f"the task map cannot use {init.algorithm}: {reason}")
    task = init.config.task
    amplitudes, phases = np.linspace(*task.amplitude, MAP_CELLS), np.linspace(*task.phase, MAP_CELLS)
    loop = inner_loop(init, lr)
    draws = [
        diagnostics.task_space_mse(init.params, task, loop, SHOTS, steps, amplitudes, phases, SEED + draw)
        for draw in range(MAP_DRAWS)
    ]
    mse = np.median(np.stack(draws), axis=0)
    return TaskMap(amplitudes, phases, mse)


def sensitivity(inits: Mapping[str, Initialization]) -> Comparison:
    """(len(ALPHAS), SENSITIVITY_STEPS + 1) mean MSE per initialization when adapting with each α in ALPHAS."""
    usable, skipped = _split(inits)
    mse = {
        name: diagnostics.lr_sensitivity(
            init.params, init.config.task, inner_loop(init), SHOTS, SENSITIVITY_STEPS, ALPHAS, SENSITIVITY_TASKS, SEED
        )
        for name, init in usable.items()
    }
    return Comparison(mse, skipped)


def training_flow(params: Params, cfg: TrainConfig) -> diagnostics.GradientFlow:
    """Gradient flow of a θ being meta-trained with `cfg`, on a fixed seeded meta-batch of cfg.meta_batch tasks."""
    if cfg.domain != "sinusoid":
        raise ValueError("gradient flow is measured for sinusoid training only")
    batch = sample_tasks(cfg.task, cfg.meta_batch, default_generator(SEED))
    return diagnostics.gradient_flow(params, batch, inner_loop_for(cfg), cfg.inner_steps)
