"""Meta-training as a generator: the CLI loop and the GUI worker both iterate it.

Several learners (e.g. MAML and the pretrained baseline) are trained side by side on the
same task stream. Stopping is the consumer's business: stop iterating and `close()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from mamlviz.core.algorithms import maml_loss, maml_meta_gradient, pretrained_loss
from mamlviz.core.config import TrainConfig
from mamlviz.core.errors import TrainingDiverged
from mamlviz.core.evaluate import eval_tasks, mse_after_steps, summarize
from mamlviz.core.model import Params, init_params
from mamlviz.core.tasks import TaskBatch, default_generator, sample_tasks

VALIDATION_SHOTS = (5, 10)
VALIDATION_STEPS = (1, 10)


@dataclass(frozen=True)
class Progress:
    """What one meta-iteration reports."""

    iteration: int
    """1-based iteration just completed."""
    losses: dict[str, float]
    """e.g. {'maml/pre': ..., 'maml/post': ..., 'pretrained': ...}."""
    validation: dict[str, float] | None = None
    """Every `val_every` iterations: '{learner}/K{shots}/step{n}' -> MSE on fixed validation tasks."""
    snapshot: dict[str, Params] | None = None
    """On request: detached CPU copies of each learner's parameters."""


Objective = Callable[[Params, TaskBatch], tuple[Tensor, dict[str, Tensor]]]


def objective_for(algo: str, cfg: TrainConfig) -> Objective:
    """The loss to minimise for an algorithm, and the metrics it reports."""
    if algo == "pretrained":
        return lambda theta, batch: _single(pretrained_loss(theta, batch), "pretrained")
    first_order = algo == "fomaml"

    def objective(theta: Params, batch: TaskBatch) -> tuple[Tensor, dict[str, Tensor]]:
        post, pre = maml_loss(theta, batch, cfg.inner_lr, cfg.inner_steps, first_order=first_order)
        return post, {f"{algo}/pre": pre, f"{algo}/post": post.detach()}

    return objective


Gradient = Callable[[Params, TaskBatch], tuple[Params, Tensor, dict[str, Tensor]]]


def gradient_for(algo: str, cfg: TrainConfig) -> Gradient:
    """Meta-gradient, loss and metrics for an algorithm: by hand for plain (FO-)MAML, else autograd."""
    if algo in ("maml", "fomaml"):
        first_order = algo == "fomaml"

        def fast(theta: Params, batch: TaskBatch) -> tuple[Params, Tensor, dict[str, Tensor]]:
            grads, post, pre = maml_meta_gradient(theta, batch, cfg.inner_lr, cfg.inner_steps, first_order=first_order)
            return grads, post, {f"{algo}/pre": pre, f"{algo}/post": post}

        return fast
    return autograd_gradient(objective_for(algo, cfg))


def autograd_gradient(objective: Objective) -> Gradient:
    """The gradient of an objective by autograd."""

    def by_autograd(theta: Params, batch: TaskBatch) -> tuple[Params, Tensor, dict[str, Tensor]]:
        loss, metrics = objective(theta, batch)
        grads = torch.autograd.grad(loss, list(theta.values()))
        return dict(zip(theta, grads, strict=True)), loss.detach(), metrics

    return by_autograd


def _single(loss: Tensor, name: str) -> tuple[Tensor, dict[str, Tensor]]:
    return loss, {name: loss.detach()}


class Learner:
    """One initialization optimised with Adam on its algorithm's objective."""

    def __init__(
        self, algo: str, cfg: TrainConfig, theta: Params, device: torch.device, gradient: Gradient | None = None
    ) -> None:
        self.algo = algo
        self.theta = {k: v.detach().to(device).clone().requires_grad_(True) for k, v in theta.items()}
        self.gradient = gradient or gradient_for(algo, cfg)
        self.optimizer = torch.optim.Adam(self.theta.values(), lr=cfg.meta_lr, fused=device.type in ("cpu", "cuda"))

    def step(self, batch: TaskBatch, iteration: int) -> dict[str, Tensor]:
        """One meta-update; refuses to apply a non-finite loss or gradient."""
        grads, loss, metrics = self.gradient(self.theta, batch)
        grad_norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(list(grads.values()))))
        if not bool(torch.isfinite(loss + grad_norm)):
            raise TrainingDiverged(
                iteration,
                f"{self.algo} training loss became non-finite at iteration {iteration}; "
                "the last finite parameters are kept. Try a smaller inner or meta learning rate.",
            )
        for name, param in self.theta.items():
            param.grad = grads[name]
        self.optimizer.step()
        return metrics

    def snapshot(self) -> Params:
        return {k: v.detach().cpu().clone() for k, v in self.theta.items()}


def learner_names(cfg: TrainConfig, with_baseline: bool) -> list[str]:
    names = [cfg.algo]
    if with_baseline and cfg.algo != "pretrained":
        names.append("pretrained")
    return names


class Domain(Protocol):
    """What a task family supplies to the trainer (sinusoid regression, Omniglot classification)."""

    def initial_params(self, names: Sequence[str], generator: torch.Generator) -> dict[str, Params]: ...

    def gradient(self, algo: str) -> Gradient: ...

    def sample(self, n_tasks: int, generator: torch.Generator) -> Any: ...

    def validate(self, learners: Sequence[Learner]) -> dict[str, float]: ...


class SinusoidDomain:
    """Sinusoid regression (the paper's section 5.1): MSE after 1 and 10 steps on fixed K = 5, 10 tasks."""

    def __init__(self, cfg: TrainConfig, device: torch.device) -> None:
        self.cfg = cfg
        self.validation_sets = {
            k: eval_tasks(cfg.task, k, cfg.val_tasks, cfg.seed + 1).to(device) for k in VALIDATION_SHOTS
        }

    def initial_params(self, names: Sequence[str], generator: torch.Generator) -> dict[str, Params]:
        start = init_params(self.cfg.model, generator)
        return dict.fromkeys(names, start)

    def gradient(self, algo: str) -> Gradient:
        return gradient_for(algo, self.cfg)

    def sample(self, n_tasks: int, generator: torch.Generator) -> TaskBatch:
        return sample_tasks(self.cfg.task, n_tasks, generator)

    def validate(self, learners: Sequence[Learner]) -> dict[str, float]:
        return validate(learners, self.validation_sets, self.cfg.inner_lr)


def make_domain(cfg: TrainConfig, device: torch.device) -> Domain:
    if cfg.domain == "omniglot":
        from mamlviz.core.classification_training import ClassificationDomain

        return ClassificationDomain(cfg, device)
    return SinusoidDomain(cfg, device)


class Trainer:
    """Meta-trains `cfg.algo` (and the pretrained baseline if asked) on one task stream.

    `iterate()` is the generator; the learners stay readable whenever it is suspended,
    stopped or has raised, so a consumer can always `snapshot()` what was trained so far.
    Deterministic for a seed on CPU. `init` starts from given parameters per learner.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        *,
        with_baseline: bool = False,
        device: str | torch.device = "cpu",
        init: dict[str, Params] | None = None,
    ) -> None:
        cfg.validate()
        self.cfg = cfg
        self.device = torch.device(device)
        self.generator = default_generator(cfg.seed)
        self.domain = make_domain(cfg, self.device)
        names = learner_names(cfg, with_baseline)
        start = self.domain.initial_params(names, self.generator)
        self.learners = [
            Learner(name, cfg, (init or {}).get(name, start[name]), self.device, self.domain.gradient(name))
            for name in names
        ]
        self.iteration = 0
        self.last_validation: dict[str, float] = {}

    def snapshot(self) -> dict[str, Params]:
        """Detached CPU copies of every learner's current parameters."""
        return {learner.algo: learner.snapshot() for learner in self.learners}

    def iterate(self, snapshot_every: int | None = None) -> Iterator[Progress]:
        """Run the remaining iterations, yielding a `Progress` after each.

        Raises `TrainingDiverged` on a non-finite loss; the learners then keep the last finite θ.
        """
        cfg = self.cfg
        while self.iteration < cfg.iterations:
            iteration = self.iteration + 1
            batch = self.domain.sample(cfg.meta_batch, self.generator).to(self.device)
            metrics: dict[str, Tensor] = {}
            for learner in self.learners:
                metrics.update(learner.step(batch, iteration))
            self.iteration = iteration
            losses = {k: float(v) for k, v in metrics.items()}
            validation = None
            if iteration % cfg.val_every == 0 or iteration == cfg.iterations:
                validation = self.last_validation = self.domain.validate(self.learners)
            snapshot = self.snapshot() if snapshot_every and iteration % snapshot_every == 0 else None
            yield Progress(iteration, losses, validation, snapshot)


def train(cfg: TrainConfig, **kwargs: Any) -> Iterator[Progress]:
    """Shorthand for `Trainer(cfg, **kwargs).iterate()`."""
    return Trainer(cfg, **kwargs).iterate()


def validate(learners: Sequence[Learner], tasks: dict[int, TaskBatch], lr: float) -> dict[str, float]:
    """MSE on fixed validation tasks after each of VALIDATION_STEPS updates."""
    result = {}
    for learner in learners:
        for shots, batch in tasks.items():
            curve = summarize(shots, mse_after_steps(learner.theta, batch, lr, max(VALIDATION_STEPS)))
            for step in VALIDATION_STEPS:
                result[f"{learner.algo}/K{shots}/step{step}"] = curve.mean[step]
    return result
