"""The task families (domains) the trainer, the checkpoint files, the CLI and the app know, by name.

Each domain is a package under `mamlviz.core` that builds a `DomainSpec` and calls `register` when it is
imported. The built-in ones are imported here on first use (`get`, `names`), so no caller imports a domain
package by hand. This module imports no domain and nothing of the base at run time, so every base module
may import it without a cycle. Adding a domain: add its package, register its spec, and list it in BUILTIN.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mamlviz.core.errors import ConfigError

if TYPE_CHECKING:
    from mamlviz.core.checkpoint import Initialization
    from mamlviz.core.config import TrainConfig
    from mamlviz.core.model import Params
    from mamlviz.core.train import Domain, Learner

BUILTIN = {
    "sinusoid": "mamlviz.core.sinusoid",
    "omniglot": "mamlviz.core.omniglot",
    "nav2d": "mamlviz.core.nav2d",
}
"""Domain name -> the package that registers it (imported on first use)."""


@dataclass(frozen=True)
class EvalOptions:
    """What `mamlviz eval` asks of a domain's evaluation (None: the domain's default or as trained)."""

    shots: Sequence[int] | None
    steps: int | None
    tasks: int
    inner_lr: float | None
    seed: int
    ways: int | None = None
    data: Path | None = None


@dataclass(frozen=True)
class EvalReport:
    """A domain's evaluation of some files: the `--json` document and the table's lines."""

    document: dict[str, Any]
    lines: list[str]


@dataclass(frozen=True)
class SelectionMetric:
    """The validation figure by which `mamlviz train --keep-best` chooses the iterate it keeps."""

    key: str
    """The key of the domain's `validate` result, e.g. 'maml/K10/step10', 'maml/5w1s/step3', 'maml/return/step1'."""
    higher_is_better: bool
    """True for a return or an accuracy, False for a loss."""
    label: str
    """e.g. 'val MSE', 'val accuracy' (the line `mamlviz train` prints)."""
    percent: bool = False
    """Whether the figure is a fraction shown as a percentage (accuracy)."""

    def better(self, value: float, best: float | None) -> bool:
        """Whether `value` beats `best` (None: nothing yet); a non-finite figure never does, a tie keeps the first."""
        if not math.isfinite(value):
            return False
        return best is None or (value > best if self.higher_is_better else value < best)

    def describe(self, value: float) -> str:
        """e.g. 'val accuracy 97.1%', 'val MSE 0.352', 'val return -12.40'."""
        return f"{self.label} {100 * value:.1f}%" if self.percent else f"{self.label} {value:.4g}"


@dataclass(frozen=True)
class DomainSpec:
    """Everything the base, the CLI and the app need to know of one domain."""

    name: str
    """e.g. 'sinusoid', 'omniglot' (the config's `domain`)."""
    label: str
    """e.g. 'Sinusoid regression' (menus, combo boxes)."""
    defaults: Mapping[str, Any]
    """`TrainConfig` keyword overrides chosen with this domain (the paper's settings), read by the CLI and the app."""
    trainer_domain: Callable[..., Domain]
    """(cfg, device, compile) -> the `Trainer`'s `Domain`."""
    architecture: Callable[[TrainConfig, Params], dict]
    """The checkpoint metadata 'architecture' of a config and θ."""
    check_params: Callable[[Params, TrainConfig, str], None]
    """Names, shapes and finiteness of θ against the config's network; raises `CheckpointError` naming the source."""
    evaluate: Callable[[EvalOptions, Sequence[tuple[Path, Initialization]]], EvalReport]
    """`mamlviz eval` of files of this domain."""
    describe_model: Callable[[TrainConfig], str]
    """One line naming the network (`mamlviz info`)."""
    eval_steps: int
    """Adaptation steps `mamlviz eval` reports by default."""
    shots: Callable[[TrainConfig], int]
    """Support examples per task (per class) of a config."""
    with_shots: Callable[[TrainConfig, int], TrainConfig]
    """The config with that many support examples per task (per class)."""
    make_probe: Callable[[TrainConfig], Any] | None = None
    """The training monitor's fixed probe task, None where the domain has none."""
    final_metrics: Callable[[TrainConfig, Learner], dict[str, object]] | None = None
    """Metrics `mamlviz train` stores after training (None: none)."""
    trained_summary: Callable[[Mapping[str, object], Path], str] = field(default=lambda metrics, out: "")
    """What `mamlviz train` adds to its last line (e.g. the final MSE, or how to evaluate)."""
    loading_note: str | None = None
    """Printed before a slow data load when training starts."""
    large_task_defaults: Callable[[int], Mapping[str, Any]] = field(default=lambda ways: {})
    """Further `TrainConfig` overrides by the number of ways (Omniglot 20-way: the paper's 20-way settings)."""
    oracle_inputs: tuple[int, str] = (3, "(x, amplitude, phase)")
    """The oracle network's input count and what they are (the config's check and the CLI's network)."""
    metric_learners: bool = False
    """Whether the domain trains the metric learners (`config.METRIC_ALGORITHMS`: ProtoNet, Matching Net)."""
    algo_defaults: Callable[[str], Mapping[str, Any]] = field(default=lambda algo: {})
    """Further `TrainConfig` overrides by algorithm, over the large-task ones (Omniglot ProtoNet: its episodes)."""
    learner: Callable[..., Learner] | None = None
    """(algo, cfg, θ, device, gradient) -> the `Trainer`'s learner, for a domain whose meta-update is not the
    `Learner`'s Adam step (2D navigation: TRPO); None: `train.Learner`."""
    eval_tasks: int = 600
    """Test tasks `mamlviz eval` uses by default."""
    start_params: Callable[[Params, TrainConfig], tuple[Params, str]] = field(default=lambda params, cfg: (params, ""))
    """(θ of an `--init` file, this run's config) -> θ to start from and a note of what was changed ('' if nothing),
    before its shapes are checked (Omniglot: a head for another number of ways becomes a zero one)."""
    selection: Callable[[TrainConfig, str], SelectionMetric] | None = None
    """(cfg, learner's algorithm) -> the validation figure `--keep-best` selects by, one of the keys the domain's
    `validate` reports for that learner; None: the domain cannot keep its best iterate."""


_SPECS: dict[str, DomainSpec] = {}


def register(spec: DomainSpec) -> None:
    """Make a domain known under `spec.name` (registering the same spec again does nothing)."""
    known = _SPECS.get(spec.name)
    if known is not None and known is not spec:
        raise ValueError(f"a domain named {spec.name!r} is already registered.")
    _SPECS[spec.name] = spec


def get(name: str) -> DomainSpec:
    """The domain registered as `name`; a `ConfigError` naming the known domains for any other name."""
    if isinstance(name, str) and name not in _SPECS and name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    spec = _SPECS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ConfigError(f"unknown domain {name!r}; choose one of {', '.join(names())}.")
    return spec


def names() -> list[str]:
    """The names of every known domain, built-in ones first."""
    for module in BUILTIN.values():
        importlib.import_module(module)
    return [*(name for name in BUILTIN if name in _SPECS), *(name for name in _SPECS if name not in BUILTIN)]
