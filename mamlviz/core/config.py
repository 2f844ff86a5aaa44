"""Frozen dataclass configs with the MAML paper's defaults; they travel with exported weights."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from mamlviz.core import registry
from mamlviz.core.errors import ConfigError

ALGORITHMS = ("maml", "fomaml", "pretrained", "reptile", "metasgd", "anil", "oracle")
MAMLPP_ALGORITHMS = ("maml", "anil")
"""Algorithms that accept the MAML++ options (msl, first_order_until, lslr)."""
ORACLE_INPUTS = 3
"""The oracle's network sees (x, amplitude, phase)."""


SETTING_LIMITS: dict[str, tuple[int, int]] = {
    "iterations": (1, 1_000_000),
    "seed": (0, 2**31 - 1),
    "inner_steps": (1, 20),
    "meta_batch": (1, 1000),
    "shots": (1, 100),
    "hidden": (1, 9999),
    "adapt_steps": (0, 50),
    "last_n": (0, 10_000_000),
}
"""Bounds of the app's integer settings, shared by its controls and the session reader."""
ADAPT_LR_RANGE = (0.0001, 1.0)
"""Bounds of the app's test-time learning rate α."""

EVAL_SEED = 1234
"""Seed of the test tasks of `mamlviz eval` and the app's comparison table, so both print the same numbers."""


@dataclass(frozen=True)
class TaskConfig:
    """Sinusoid task distribution y = A·sin(x − φ) (Finn et al. 2017, section 5.1)."""

    amplitude: tuple[float, float] = (0.1, 5.0)
    phase: tuple[float, float] = (0.0, math.pi)
    x_range: tuple[float, float] = (-5.0, 5.0)
    shots: int = 10
    queries: int = 10

    def validate(self) -> None:
        for name in ("amplitude", "phase", "x_range"):
            low, high = getattr(self, name)
            if not (math.isfinite(low) and math.isfinite(high) and low <= high):
                raise ConfigError(f"{name} must be a finite range low <= high, got {low}, {high}.")
        if self.shots < 1 or self.queries < 1:
            raise ConfigError(f"shots and queries must be at least 1, got {self.shots}, {self.queries}.")


@dataclass(frozen=True)
class ModelConfig:
    """A ReLU MLP in_features → hidden… → out_features."""

    hidden: tuple[int, ...] = (40, 40)
    in_features: int = 1
    out_features: int = 1

    def validate(self) -> None:
        sizes = (self.in_features, *self.hidden, self.out_features)
        if not self.hidden or any(int(s) != s or s < 1 for s in sizes):
            raise ConfigError(f"hidden sizes must be positive integers, got {list(self.hidden)}.")

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.in_features, *self.hidden, self.out_features)


@dataclass(frozen=True)
class ClassificationConfig:
    """N-way K-shot Omniglot tasks and the 4-block conv net (Finn et al. 2017, section 5.2)."""

    ways: int = 5
    shots: int = 1
    queries: int = 1
    """Query drawings per class during meta-training."""
    filters: int = 64
    rotations: bool = True
    """Rotations by 90°, 180°, 270° as extra classes."""
    data: str = ""
    """Folder holding the Omniglot archives; empty: the downloaded official copy."""

    def validate(self) -> None:
        for name in ("ways", "shots", "queries", "filters"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.ways < 2:
            raise ConfigError(f"classification needs at least 2 ways, got {self.ways}.")


@dataclass(frozen=True)
class TrainConfig:
    """One meta-training run. Defaults are the paper's sinusoid settings."""

    algo: str = "maml"
    iterations: int = 70_000
    inner_steps: int = 1
    inner_lr: float = 0.01
    meta_lr: float = 0.001
    meta_batch: int = 25
    seed: int = 0
    epsilon: float = 0.1
    """Reptile: interpolation rate ε of the outer step θ ← θ + ε·mean(φ − θ)."""
    msl: bool = False
    """MAML++ multi-step loss: query losses after every inner step, weights annealed toward the last."""
    first_order_until: int = 0
    """MAML++ derivative-order annealing: first-order meta-gradient for iterations 1..N."""
    lslr: bool = False
    """MAML++ learned per-layer, per-step inner learning rates."""
    step_size_lr: float = 0.0
    """Adam learning rate of learned inner step sizes (Meta-SGD, LSLR); 0: the meta learning rate."""
    cosine: bool = False
    """Cosine annealing of the meta learning rate (Reptile: of ε) to zero over the iterations."""
    val_every: int = 1000
    val_tasks: int = 100
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    domain: str = "sinusoid"
    classification: ClassificationConfig = field(default_factory=ClassificationConfig)

    def validate(self) -> None:
        registry.get(self.domain)  # a ConfigError naming the known domains for any other
        if self.algo not in ALGORITHMS:
            raise ConfigError(f"unknown algorithm {self.algo!r}; choose one of {', '.join(ALGORITHMS)}.")
        for name in ("iterations", "inner_steps", "meta_batch", "val_every", "val_tasks"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be at least 1, got {getattr(self, name)}.")
        for name in ("inner_lr", "meta_lr", "epsilon"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name.replace('_', ' ')} must be a positive number, got {value}.")
        if not (math.isfinite(self.step_size_lr) and self.step_size_lr >= 0):
            raise ConfigError(f"step size lr must be 0 (the meta lr) or a positive number, got {self.step_size_lr}.")
        if self.epsilon > 1:
            raise ConfigError(f"the Reptile interpolation rate epsilon must be at most 1, got {self.epsilon}.")
        if self.first_order_until < 0:
            raise ConfigError(f"first order until must be 0 or more, got {self.first_order_until}.")
        maml_pp = [name for name in ("msl", "lslr", "first_order_until") if getattr(self, name)]
        if maml_pp and self.algo not in MAMLPP_ALGORITHMS:
            raise ConfigError(
                f"the MAML++ options ({', '.join(maml_pp)}) need {' or '.join(MAMLPP_ALGORITHMS)}, not {self.algo}."
            )
        if self.algo == "oracle" and self.model.in_features != ORACLE_INPUTS:
            raise ConfigError(
                f"the oracle takes {ORACLE_INPUTS} inputs (x, amplitude, phase), got {self.model.in_features}."
            )
        self.task.validate()
        self.model.validate()
        self.classification.validate()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild a config saved by `to_dict`; unknown keys are an error, missing ones take defaults."""
        try:
            values = dict(data)
            task = TaskConfig(**{k: _tuple(v) for k, v in values.pop("task", {}).items()})
            model = ModelConfig(**{k: _tuple(v) for k, v in values.pop("model", {}).items()})
            classification = ClassificationConfig(**values.pop("classification", {}))
            config = cls(**values, task=task, model=model, classification=classification)
        except TypeError as exc:
            raise ConfigError(f"invalid training config: {exc}.") from exc
        config.validate()
        return config


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def parse_hidden(text: str) -> tuple[int, ...]:
    """Parse '40,40' into (40, 40), with a clear error for anything else."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(f"hidden sizes must be comma-separated positive integers like 40,40, got {text!r}.") from None
    ModelConfig(hidden=sizes).validate()
    return sizes
