"""Why the MAML family differs: measurements on an initialization, batched over tasks, as numpy arrays.

Gradient flow (per-layer meta-gradient norms, cosine of second- vs first-order meta-gradient),
feature reuse vs rapid learning (per-layer relative weight change during adaptation), inner-step
stability (meta-gradient norm vs inner steps), the task-space map (post-adaptation MSE over
(amplitude, phase)) and inner-lr sensitivity (MSE vs α and steps). No Qt here: views take the arrays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from mamlviz.core.algorithms import InnerLoop, maml_loss, sgd_steps, with_task_inputs
from mamlviz.core.config import TaskConfig
from mamlviz.core.data import TaskBatch, default_generator
from mamlviz.core.evaluate import DIVERGED_MSE, mse_after_steps
from mamlviz.core.model import Params, expand_to_tasks
from mamlviz.core.sinusoid.evaluation import eval_tasks
from mamlviz.core.sinusoid.tasks import query_grid, sinusoid


def layer_groups(theta: Params) -> list[list[str]]:
    """Parameter names grouped by linear layer: [['0.weight', '0.bias'], ['2.weight', '2.bias'], ...]."""
    layers: dict[str, list[str]] = {}
    for name in theta:
        layers.setdefault(name.split(".")[0], []).append(name)
    return list(layers.values())


def layer_labels(theta: Params) -> list[str]:
    """'layer 1', ..., 'head' for the last linear layer."""
    n = len(layer_groups(theta))
    return [f"layer {i + 1}" if i < n - 1 else "head" for i in range(n)]


def _like(batch: TaskBatch, like: Tensor) -> TaskBatch:
    return TaskBatch(*(getattr(batch, f).to(like) for f in TaskBatch.__dataclass_fields__))


def _prepare(batch: TaskBatch, loop: InnerLoop, like: Tensor) -> TaskBatch:
    return _like(with_task_inputs(batch) if loop.task_inputs else batch, like)


def meta_gradient(theta: Params, batch: TaskBatch, loop: InnerLoop, steps: int, *, first_order: bool) -> Params:
    """The MAML meta-gradient of θ (mean query loss over the batch's tasks after `steps` inner steps)."""
    like = next(iter(theta.values()))
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in theta.items()}
    post, _ = maml_loss(leaves, _prepare(batch, loop, like), loop.to(like), steps, first_order=first_order)
    grads = torch.autograd.grad(post, list(leaves.values()))
    return dict(zip(leaves, grads, strict=True))


@dataclass(frozen=True)
class GradientFlow:
    """One gradient-flow measurement on a batch."""

    labels: list[str]
    second_order: np.ndarray
    """(layers,) norm of the exact meta-gradient of each layer (weight and bias together)."""
    first_order: np.ndarray
    """(layers,) the same for the first-order meta-gradient."""
    cosine: float
    """Cosine similarity of the full second- and first-order meta-gradients."""


def gradient_flow(theta: Params, batch: TaskBatch, loop: InnerLoop, steps: int) -> GradientFlow:
    """Per-layer meta-gradient norms and cos(second-order, first-order) on one meta-batch."""
    second = meta_gradient(theta, batch, loop, steps, first_order=False)
    first = meta_gradient(theta, batch, loop, steps, first_order=True)

    def norms(grads: Params) -> np.ndarray:
        return np.array([float(torch.cat([grads[k].flatten() for k in group]).norm()) for group in layer_groups(grads)])

    flat_second = torch.cat([g.flatten() for g in second.values()])
    flat_first = torch.cat([first[k].flatten() for k in second])
    cosine = float(torch.nn.functional.cosine_similarity(flat_second, flat_first, dim=0))
    return GradientFlow(layer_labels(theta), norms(second), norms(first), cosine)


def weight_change(theta: Params, batch: TaskBatch, loop: InnerLoop, steps: int) -> np.ndarray:
    """(layers,) relative change ‖φ_l − θ_l‖ / ‖θ_l‖ of each layer after adapting on the support sets,
    averaged over the batch's tasks (ANIL: only the head moves; MAML: does it mostly move the head?)."""
    like = next(iter(theta.values()))
    with torch.no_grad():
        batch = _prepare(batch, loop, like)
        start = expand_to_tasks({k: v.detach() for k, v in theta.items()}, batch.support_x.shape[0])
        adapted = sgd_steps(start, batch.support_x, batch.support_y, loop.to(like), steps)[-1]
        changes = []
        for group in layer_groups(theta):
            delta = torch.cat([(adapted[k] - start[k]).flatten(1) for k in group], 1).norm(dim=1)
            size = torch.cat([theta[k].detach().flatten() for k in group]).norm()
            changes.append(float((delta / size).mean()))
    return np.array(changes)


def meta_gradient_norms(
    theta: Params, batch: TaskBatch, loop: InnerLoop, max_steps: int = 10, *, first_order: bool = False
) -> np.ndarray:
    """(max_steps,) norm of the meta-gradient with 1, 2, ..., max_steps inner steps (inner-step stability)."""
    return np.array(
        [
            float(
                torch.cat(
                    [g.flatten() for g in meta_gradient(theta, batch, loop, s, first_order=first_order).values()]
                ).norm()
            )
            for s in range(1, max_steps + 1)
        ]
    )


def task_grid(
    cfg: TaskConfig, amplitudes: Sequence[float], phases: Sequence[float], shots: int, seed: int
) -> TaskBatch:
    """One task per (amplitude, phase) cell, amplitude-major, with seeded support points and a 100-point grid
    (float64)."""
    a, p = torch.meshgrid(
        torch.as_tensor(amplitudes, dtype=torch.float64), torch.as_tensor(phases, dtype=torch.float64), indexing="ij"
    )
    amplitude, phase = a.reshape(-1, 1, 1), p.reshape(-1, 1, 1)
    n = amplitude.shape[0]
    low, high = cfg.x_range
    support_x = low + (high - low) * torch.rand(n, shots, 1, generator=default_generator(seed), dtype=torch.float64)
    grid = query_grid(cfg, 100).expand(n, 100, 1)
    batch = TaskBatch(
        support_x,
        sinusoid(support_x, amplitude, phase),
        grid,
        sinusoid(grid, amplitude, phase),
        a.flatten(),
        p.flatten(),
    )
    return batch


def task_space_mse(
    theta: Params,
    cfg: TaskConfig,
    loop: InnerLoop,
    shots: int,
    steps: int,
    amplitudes: Sequence[float],
    phases: Sequence[float],
    seed: int = 0,
) -> np.ndarray:
    """(len(amplitudes), len(phases)) post-adaptation MSE (100-point grid) of the task in each cell."""
    tasks = _like(task_grid(cfg, amplitudes, phases, shots, seed), next(iter(theta.values())))
    mse = mse_after_steps(theta, tasks, loop, steps)[-1]
    return mse.double().numpy().reshape(len(amplitudes), len(phases))


def lr_sensitivity(
    theta: Params,
    cfg: TaskConfig,
    loop: InnerLoop,
    shots: int,
    steps: int,
    alphas: Sequence[float],
    n_tasks: int = 100,
    seed: int = 0,
) -> np.ndarray:
    """(len(alphas), steps + 1) mean post-adaptation MSE over n_tasks when adapting with step size α.

    Each α replaces the init's step sizes (learned ones too); ANIL's head-only adaptation and the
    oracle's inputs are kept. Where any task diverges (MSE not finite or above DIVERGED_MSE) the mean is NaN.
    """
    tasks = _like(eval_tasks(cfg, shots, n_tasks, seed), next(iter(theta.values())))
    rows = []
    for alpha in alphas:
        mse = mse_after_steps(theta, tasks, dataclasses.replace(loop, lr=float(alpha), learned_lrs=None), steps)
        diverged = ~(torch.isfinite(mse) & (mse < DIVERGED_MSE))
        rows.append(torch.where(diverged, torch.nan, mse).double().mean(1).numpy())
    return np.stack(rows)
