"""Frozen dataclass configs with the MAML paper's defaults; they travel with exported weights."""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from mamlviz.core import registry
from mamlviz.core.errors import ConfigError

ALGORITHMS = ("maml", "fomaml", "pretrained", "reptile", "metasgd", "anil", "oracle", "protonet", "matchingnet")
METRIC_ALGORITHMS = ("protonet", "matchingnet")
"""Learners that classify by distance in a learned embedding (no inner steps); only a domain whose registry spec
sets `metric_learners` trains them (Omniglot: `mamlviz.core.omniglot.metric`)."""
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
    "val_tasks": (1, 10_000),
    "eval_tasks": (1, 10_000),
    "eval_steps": (0, 1000),
    "layers": (1, 16),
    "parameters": (1, 20_000_000),
    "task_parameters": (1, 250_000_000),
    "ways": (2, 200),
    "filters": (1, 512),
}
"""Bounds of the app's integer settings, shared by its controls, the session reader, `TrainConfig.validate`
and the evaluation entry points (so the CLI, the app and sessions refuse the same values).

`parameters` bounds the MLP's weights (20 M float32: 80 MB, e.g. hidden 4000,4000). `task_parameters` bounds
tasks × (steps + 1) × parameters, the per-task parameter copies an inner loop keeps at once (a meta-batch's
trajectory, a validation or evaluation batch): 2.5e8 float32 numbers are 1 GB, and second-order meta-training
holds about three times that. Hidden 2000,2000 (4 M parameters) thus trains 25 tasks of 1 step but cannot be
validated on 100 tasks over 10 steps (4.4e9 numbers, the 24 GB that the issue saw OOM-killed)."""
VALIDATION_ADAPT_STEPS = 10
"""The longest adaptation of the trainer's validation (the sinusoid's step 10), for its memory bound."""
ADAPT_LR_RANGE = (0.0001, 1.0)
"""Bounds of the app's test-time learning rate α."""

EVAL_SEED = 1234
"""Seed of the test tasks of `mamlviz eval` and the app's comparison table, so both print the same numbers."""


def check_setting(name: str, value: Any, label: str | None = None) -> None:
    """A whole number within `SETTING_LIMITS[name]`, else a `ConfigError` naming the setting (or `label`)."""
    low, high = SETTING_LIMITS[name]
    whole = isinstance(value, int) and not isinstance(value, bool)
    if not (whole and low <= value <= high):
        what = label or name.replace("_", " ")
        raise ConfigError(f"{what} must be a whole number from {low:,} to {high:,}, got {value!r}.")


def check_task_memory(tasks: int, steps: int, parameters: int, what: str) -> None:
    """Refuse `tasks` × (`steps` + 1) copies of `parameters` numbers above `SETTING_LIMITS['task_parameters']`."""
    limit = SETTING_LIMITS["task_parameters"][1]
    numbers = tasks * (steps + 1) * parameters
    if numbers > limit:
        raise ConfigError(
            f"{what} would keep {tasks:,} tasks × {steps + 1} copies of {parameters:,} parameters "
            f"({4 * numbers / 1e9:.1f} GB), more than the {4 * limit / 1e9:.0f} GB allowed; "
            "use fewer tasks or steps, or smaller hidden sizes."
        )


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
        check_setting("shots", self.shots, "task shots")
        check_setting("shots", self.queries, "task queries")


@dataclass(frozen=True)
class ModelConfig:
    """A ReLU MLP in_features → hidden… → out_features."""

    hidden: tuple[int, ...] = (40, 40)
    in_features: int = 1
    out_features: int = 1

    def validate(self) -> None:
        sizes = (self.in_features, *self.hidden, self.out_features)
        if not self.hidden or any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in sizes):
            raise ConfigError(f"hidden sizes must be positive integers, got {list(self.hidden)}.")
        low, high = SETTING_LIMITS["layers"]
        if not low <= len(self.hidden) <= high:
            raise ConfigError(f"the network needs {low} to {high} hidden layers, got {len(self.hidden)}.")
        low, high = SETTING_LIMITS["hidden"]
        if any(s > high for s in sizes):
            raise ConfigError(f"hidden sizes must be at most {high}, got {list(self.hidden)}.")
        limit = SETTING_LIMITS["parameters"][1]
        if self.parameter_count > limit:
            raise ConfigError(
                f"hidden sizes {','.join(map(str, self.hidden))} make {self.parameter_count:,} parameters, "
                f"more than the {limit:,} allowed."
            )

    @property
    def parameter_count(self) -> int:
        """Weights and biases of the MLP."""
        sizes = self.sizes
        return sum((fan_in + 1) * fan_out for fan_in, fan_out in itertools.pairwise(sizes))

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.in_features, *self.hidden, self.out_features)


OMNIGLOT_SPLITS = ("alphabets", "paper")
"""Values of `ClassificationConfig.split`."""


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
    train_ways: int = 0
    """Classes per training episode of the metric learners (ProtoNet paper: 60); 0: `ways`."""
    split: str = "alphabets"
    """Meta-train / meta-test characters: 'alphabets', the background / evaluation archives (964 / 659), or
    'paper', a fixed random 1,200 / 423 split of all 1,623 (Finn et al. 2017; `omniglot.data.meta_split`)."""
    val_characters: int = 0
    """Meta-training characters held out (a fixed random choice, `omniglot.data.hold_out`) as the validation tasks'
    classes; 0: validation tasks are drawn from the meta-test characters."""

    def validate(self) -> None:
        for name in ("ways", "shots", "queries", "filters"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.val_characters < 0:
            raise ConfigError(f"val_characters must be 0 or more, got {self.val_characters}.")
        if self.train_ways and self.train_ways < 2:
            raise ConfigError(f"training episodes need at least 2 ways, got {self.train_ways}.")
        if self.ways < 2:
            raise ConfigError(f"classification needs at least 2 ways, got {self.ways}.")
        check_setting("ways", self.ways)
        if self.train_ways:
            check_setting("ways", self.train_ways, "training ways")
        check_setting("shots", self.shots, "shots per class")
        check_setting("shots", self.queries, "queries per class")
        check_setting("filters", self.filters)
        check_split(self.split)


def check_split(split: str) -> None:
    """A ConfigError unless `split` is one of OMNIGLOT_SPLITS."""
    if split not in OMNIGLOT_SPLITS:
        raise ConfigError(f"unknown Omniglot split {split!r}; choose {' or '.join(OMNIGLOT_SPLITS)}.")


@dataclass(frozen=True)
class RLConfig:
    """2D navigation policy-gradient settings (Finn et al. 2017, section 5.3; `mamlviz.core.nav2d`)."""

    trajectories: int = 20
    """Trajectories per task per inner step (and of the post-update batch) in training."""
    horizon: int = 100
    action_scale: float = 0.1
    """The velocity is clip(action_scale · action, ±0.1) per axis: 0.1 is rllab's `normalize()` (policy actions in
    [−1, 1] mapped onto the ±0.1 box), as the paper's runs used; 1.0 makes the action the velocity itself."""
    gamma: float = 0.99
    gae_lambda: float = 1.0
    """GAE λ; 1.0: the advantage is the discounted return-to-go minus the linear feature baseline."""
    max_kl: float = 0.01
    """TRPO: the trust region's mean KL between the old and the new post-update policies."""
    cg_iters: int = 10
    cg_damping: float = 1e-5
    ls_backtrack: float = 0.5
    ls_steps: int = 15
    estimator: str = "reference"
    """Second-order meta-gradient: 'reference' (cbfinn/maml_rl's surrogate, no pre-update sampling term) or 'dice'."""
    fisher: str = "adapted"
    """TRPO's metric: 'adapted', the post-update policies' Fisher with the inner step's Jacobian taken as the
    identity (about 4x cheaper), or 'exact', the KL's Hessian through the inner step. The line search checks the
    exact KL either way; the meta-gradient always goes through the inner step."""

    def validate(self) -> None:
        for name in ("trajectories", "horizon", "cg_iters", "ls_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be at least 1, got {getattr(self, name)}.")
        if not (math.isfinite(self.action_scale) and self.action_scale > 0):
            raise ConfigError(f"action scale must be positive, got {self.action_scale}.")
        for name in ("gamma", "gae_lambda", "ls_backtrack"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be in [0, 1], got {getattr(self, name)}.")
        if not (math.isfinite(self.max_kl) and self.max_kl > 0 and self.cg_damping >= 0):
            raise ConfigError(f"max kl must be positive and cg damping >= 0, got {self.max_kl}, {self.cg_damping}.")
        if self.estimator not in ("reference", "dice"):
            raise ConfigError(f"unknown estimator {self.estimator!r}; choose reference or dice.")
        if self.fisher not in ("adapted", "exact"):
            raise ConfigError(f"unknown fisher {self.fisher!r}; choose adapted or exact.")


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
    rl: RLConfig = field(default_factory=RLConfig)

    def validate(self) -> None:
        registry.get(self.domain)  # a ConfigError naming the known domains for any other
        if self.algo not in ALGORITHMS:
            raise ConfigError(f"unknown algorithm {self.algo!r}; choose one of {', '.join(ALGORITHMS)}.")
        for name in ("iterations", "inner_steps", "meta_batch", "val_every", "val_tasks"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be at least 1, got {getattr(self, name)}.")
        for name in ("iterations", "inner_steps", "meta_batch", "val_tasks"):
            check_setting(name, getattr(self, name))
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
        if self.algo in METRIC_ALGORITHMS and not registry.get(self.domain).metric_learners:
            raise ConfigError(f"{self.algo} classifies images; choose a domain that has it (e.g. omniglot).")
        oracle = registry.get(self.domain).oracle_inputs
        if self.algo == "oracle" and self.model.in_features != oracle[0]:
            raise ConfigError(f"the oracle takes {oracle[0]} inputs {oracle[1]}, got {self.model.in_features}.")
        self.task.validate()
        self.model.validate()
        self.classification.validate()
        self.rl.validate()
        parameters = self.model.parameter_count
        check_task_memory(self.meta_batch, self.inner_steps, parameters, "meta-training")
        check_task_memory(self.val_tasks, VALIDATION_ADAPT_STEPS, parameters, "validation")

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
            rl = RLConfig(**values.pop("rl", {}))
            config = cls(**values, task=task, model=model, classification=classification, rl=rl)
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
