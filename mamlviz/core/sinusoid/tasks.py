"""Sinusoid regression tasks, sampled in batches from an explicit generator."""

from __future__ import annotations

import torch
from torch import Tensor

from mamlviz.core.config import TaskConfig
from mamlviz.core.data import TaskBatch


def sinusoid(x: Tensor, amplitude: Tensor, phase: Tensor) -> Tensor:
    """y = A·sin(x − φ), broadcasting (T, 1, 1) parameters over (T, N, 1) inputs."""
    return amplitude * torch.sin(x - phase)


def sample_tasks(
    cfg: TaskConfig, n_tasks: int, generator: torch.Generator, dtype: torch.dtype = torch.float32
) -> TaskBatch:
    """Sample n_tasks sinusoids with cfg.shots support and cfg.queries query points each."""
    return sample_task_batches(cfg, n_tasks, 1, generator, dtype)[0]


def sample_task_batches(
    cfg: TaskConfig, n_tasks: int, n_batches: int, generator: torch.Generator, dtype: torch.dtype = torch.float32
) -> list[TaskBatch]:
    """`n_batches` meta-batches in one go, the same as `n_batches` calls of `sample_tasks` in a row.

    Each batch's float64 uniforms are, in order, its amplitudes, phases, support inputs and query inputs, and the
    generator fills one draw in sequence, so one draw for all the batches is the same stream as one per batch.
    """
    n, shots, queries = n_tasks, cfg.shots, cfg.queries
    uniform = torch.rand(n_batches, n * (2 + shots + queries), generator=generator, dtype=torch.float64)
    amplitude = _scaled(uniform[:, :n], cfg.amplitude).view(n_batches, n, 1, 1)
    phase = _scaled(uniform[:, n : 2 * n], cfg.phase).view(n_batches, n, 1, 1)
    x = _scaled(uniform[:, 2 * n :], cfg.x_range)
    support_x, query_x = (
        x[:, : n * shots].view(n_batches, n, shots, 1),
        x[:, n * shots :].view(n_batches, n, queries, 1),
    )
    fields = (
        support_x,
        sinusoid(support_x, amplitude, phase),
        query_x,
        sinusoid(query_x, amplitude, phase),
        amplitude.view(n_batches, n),
        phase.view(n_batches, n),
    )
    converted = [field.to(dtype) for field in fields]
    return [TaskBatch(*(field[b] for field in converted)) for b in range(n_batches)]


def _scaled(uniform: Tensor, low_high: tuple[float, float]) -> Tensor:
    """U[0, 1) draws mapped onto [low, high)."""
    low, high = low_high
    return low + (high - low) * uniform


def query_grid(cfg: TaskConfig, n_points: int = 100) -> Tensor:
    """n_points evenly spaced inputs over the task's x range, shape (n_points, 1)."""
    low, high = cfg.x_range
    return torch.linspace(low, high, n_points, dtype=torch.float64).unsqueeze(1)
