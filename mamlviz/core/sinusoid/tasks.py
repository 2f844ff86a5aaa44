"""Sinusoid regression tasks, sampled in batches from an explicit generator."""

from __future__ import annotations

import torch
from torch import Tensor

from mamlviz.core.config import TaskConfig
from mamlviz.core.data import TaskBatch


def sinusoid(x: Tensor, amplitude: Tensor, phase: Tensor) -> Tensor:
    """y = A·sin(x − φ), broadcasting (T, 1, 1) parameters over (T, N, 1) inputs."""
    return amplitude * torch.sin(x - phase)


def _uniform(n: int, low_high: tuple[float, float], generator: torch.Generator, shape: tuple[int, ...] = ()) -> Tensor:
    low, high = low_high
    return low + (high - low) * torch.rand(n, *shape, generator=generator, dtype=torch.float64)


def sample_tasks(
    cfg: TaskConfig, n_tasks: int, generator: torch.Generator, dtype: torch.dtype = torch.float32
) -> TaskBatch:
    """Sample n_tasks sinusoids with cfg.shots support and cfg.queries query points each."""
    amplitude = _uniform(n_tasks, cfg.amplitude, generator, (1, 1))
    phase = _uniform(n_tasks, cfg.phase, generator, (1, 1))
    support_x = _uniform(n_tasks, cfg.x_range, generator, (cfg.shots, 1))
    query_x = _uniform(n_tasks, cfg.x_range, generator, (cfg.queries, 1))
    batch = TaskBatch(
        support_x,
        sinusoid(support_x, amplitude, phase),
        query_x,
        sinusoid(query_x, amplitude, phase),
        amplitude.flatten(),
        phase.flatten(),
    )
    return TaskBatch(*(getattr(batch, f).to(dtype) for f in TaskBatch.__dataclass_fields__))


def query_grid(cfg: TaskConfig, n_points: int = 100) -> Tensor:
    """n_points evenly spaced inputs over the task's x range, shape (n_points, 1)."""
    low, high = cfg.x_range
    return torch.linspace(low, high, n_points, dtype=torch.float64).unsqueeze(1)
