"""Task data the base shares with the domains: the regression meta-batch the algorithms take, the seeded
generator every sampler takes, and the playground's support points and ground truth (sessions store them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from mamlviz.core.errors import ConfigError

MAX_COORDINATE = 1000.0
"""Support points further out than this are refused (they can only come from a damaged file)."""


@dataclass(frozen=True)
class TaskBatch:
    """T tasks: support and query sets of shape (T, N, 1), with each task's amplitude and phase."""

    support_x: Tensor
    support_y: Tensor
    query_x: Tensor
    query_y: Tensor
    amplitude: Tensor
    phase: Tensor

    def to(self, device: torch.device | str | torch.dtype) -> TaskBatch:
        """The batch on `device` (itself if it is there already: no per-iteration copies or calls), or in a dtype."""
        if isinstance(device, (str, torch.device)) and self.support_x.device == torch.device(device):
            return self
        return TaskBatch(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))


def default_generator(seed: int) -> torch.Generator:
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


@dataclass(frozen=True)
class Truth:
    """A ground-truth sinusoid y = A·sin(x − φ)."""

    amplitude: float
    phase: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.amplitude * np.sin(x - self.phase)


def check_points(points: object) -> np.ndarray:
    """Support points as a (K, 2) float array; refuses NaN, infinite or absurdly large coordinates."""
    array = np.asarray(points, dtype=np.float64).reshape(-1, 2) if np.size(points) else np.zeros((0, 2))
    if not np.isfinite(array).all():
        raise ConfigError("support points must have finite coordinates (found NaN or infinity).")
    if array.size and np.abs(array).max() > MAX_COORDINATE:
        raise ConfigError(f"support point coordinates must lie within ±{MAX_COORDINATE:g}.")
    return array
