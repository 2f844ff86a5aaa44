"""Meta-training as a generator: the CLI loop and the GUI worker both iterate it.

Several learners (e.g. MAML and the pretrained baseline) are trained side by side on the
same task stream. Stopping is the consumer's business: stop iterating and `close()`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from mamlviz.core import registry
from mamlviz.core.algorithms import (
    InnerLoop,
    cosine_factor,
    initial_inner_lrs,
    inner_loop_for,
    joint_gradient,
    maml_loss,
    maml_meta_gradient,
    msl_weights,
    reptile_loss,
)
from mamlviz.core.checkpoint import INNER_LR_PREFIX, split_inner_lrs
from mamlviz.core.config import TrainConfig
from mamlviz.core.data import TaskBatch, default_generator
from mamlviz.core.distributed import SINGLE, Ranks, broadcast, reducer, take_tasks
from mamlviz.core.errors import ConfigError, TrainingDiverged
from mamlviz.core.fused import JOINT_ALGORITHMS, MetaUpdate, finite, fusable
from mamlviz.core.model import Params


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


Objective = Callable[[Params, Params, TaskBatch, int], tuple[Tensor, dict[str, Tensor]]]
"""(θ, learned inner step sizes, batch, iteration) -> (loss to minimise, metrics)."""

MSL_FRACTION = 10
"""MAML++ anneals the multi-step loss weights over the first 1/MSL_FRACTION of the iterations."""


def objective_for(algo: str, cfg: TrainConfig) -> Objective:
    """The loss a meta-learner minimises, and the metrics it reports (the joint regressors, pretrained and
    oracle, have only a hand-written gradient: see `gradient_for`)."""
    if algo == "reptile":

        def reptile(theta: Params, lrs: Params, batch: TaskBatch, iteration: int) -> tuple[Tensor, dict[str, Tensor]]:
            surrogate, pre, post = reptile_loss(theta, batch, inner_loop_for(cfg, algo=algo), cfg.inner_steps)
            return surrogate, {f"{algo}/pre": pre, f"{algo}/post": post}

        return reptile

    def objective(theta: Params, lrs: Params, batch: TaskBatch, iteration: int) -> tuple[Tensor, dict[str, Tensor]]:
        first_order = algo == "fomaml" or iteration <= cfg.first_order_until
        weights = msl_weights(cfg.inner_steps, iteration, cfg.iterations // MSL_FRACTION) if cfg.msl else None
        loop = inner_loop_for(cfg, lrs, algo=algo)
        post, pre = maml_loss(theta, batch, loop, cfg.inner_steps, first_order=first_order, step_weights=weights)
        return post, {f"{algo}/pre": pre, f"{algo}/post": post.detach()}

    return objective


Gradient = Callable[[Params, Params, TaskBatch, int], tuple[Params, Tensor, dict[str, Tensor]]]
"""(θ, learned step sizes, batch, iteration) -> (gradient of every θ tensor and of every step-size
tensor, the latter keyed `inner_lr.<name>`; loss; metrics)."""


def gradient_for(algo: str, cfg: TrainConfig, compile: bool = False) -> Gradient:
    """Meta-gradient, loss and metrics: by hand for (FO-)MAML without MSL or LSLR and for the joint
    regressors (pretrained, oracle), else autograd.

    `compile` returns a `fused.MetaUpdate`: the hand-written (FO-)MAML meta-iteration or joint regression step,
    gradient and Adam update, compiled into one call (a `Learner` given one takes its steps through it); the
    autograd paths are never compiled.
    """
    if algo in JOINT_ALGORITHMS:

        def joint(
            theta: Params, lrs: Params, batch: TaskBatch, iteration: int
        ) -> tuple[Params, Tensor, dict[str, Tensor]]:
            grads, loss = joint_gradient(theta, batch, algo == "oracle")
            return grads, loss, {algo: loss}

        return MetaUpdate(algo, cfg, joint) if compile else joint
    if fusable(cfg, algo):

        def fast(
            theta: Params, lrs: Params, batch: TaskBatch, iteration: int
        ) -> tuple[Params, Tensor, dict[str, Tensor]]:
            first_order = algo == "fomaml" or iteration <= cfg.first_order_until
            grads, post, pre = maml_meta_gradient(theta, batch, cfg.inner_lr, cfg.inner_steps, first_order=first_order)
            return grads, post, {f"{algo}/pre": pre, f"{algo}/post": post}

        return MetaUpdate(algo, cfg, fast) if compile else fast
    return autograd_gradient(objective_for(algo, cfg))


def autograd_gradient(objective: Objective) -> Gradient:
    """The gradient of an objective by autograd."""

    def by_autograd(
        theta: Params, lrs: Params, batch: TaskBatch, iteration: int
    ) -> tuple[Params, Tensor, dict[str, Tensor]]:
        loss, metrics = objective(theta, lrs, batch, iteration)
        variables = {**theta, **{INNER_LR_PREFIX + k: v for k, v in lrs.items()}}
        grads = torch.autograd.grad(loss, list(variables.values()))
        return dict(zip(variables, grads, strict=True)), loss.detach(), metrics

    return by_autograd


class Learner:
    """One initialization (and any inner step sizes it learns) optimised on its algorithm's objective.

    Adam with the meta learning rate; Reptile takes plain SGD steps of size ε on its surrogate.
    `theta` may carry learned step sizes as `inner_lr.*` entries (as exported); else they start at α.
    Given a `fused.MetaUpdate` as its gradient, a learner on one rank takes each step as that one compiled call,
    with its own Adam moments (the same update as torch.optim.Adam's).
    """

    def __init__(
        self, algo: str, cfg: TrainConfig, theta: Params, device: torch.device, gradient: Gradient | None = None
    ) -> None:
        self.algo = algo
        self.cfg = cfg
        model, lrs = split_inner_lrs(theta)
        self.theta = {k: v.detach().to(device).clone().requires_grad_(True) for k, v in model.items()}
        lrs = lrs or initial_inner_lrs(algo, cfg, self.theta)
        self.inner_lrs = {k: v.detach().to(device).clone().requires_grad_(True) for k, v in lrs.items()}
        self.gradient = gradient or gradient_for(algo, cfg)
        self.variables = {**self.theta, **{INNER_LR_PREFIX + k: v for k, v in self.inner_lrs.items()}}
        if algo == "reptile":
            self.optimizer: torch.optim.Optimizer = torch.optim.SGD(self.theta.values(), lr=cfg.epsilon)
        else:
            groups = [{"params": list(self.theta.values()), "lr": cfg.meta_lr}]
            if self.inner_lrs:
                groups.append({"params": list(self.inner_lrs.values()), "lr": cfg.step_size_lr or cfg.meta_lr})
            self.optimizer = torch.optim.Adam(groups, fused=device.type in ("cpu", "cuda"))
        self.base_lrs = [group["lr"] for group in self.optimizer.param_groups]
        self.reduce: Callable[[Params, Tensor], tuple[Params, Tensor]] | None = None
        """Set by the `Trainer` when several ranks train this learner (`distributed.reducer`)."""
        self.fused = self.gradient if isinstance(self.gradient, MetaUpdate) else None
        self.moments = [{k: torch.zeros_like(v) for k, v in self.theta.items()} for _ in range(2)] if self.fused else []
        """Adam's first and second moments of the fused update (its own: torch's optimizer is not used there)."""
        self.fused_steps = 0
        self.plain = {k: v.detach() for k, v in self.theta.items()}
        """θ without autograd for the fused update: the same storage, updated in place."""

    def step(self, batch: TaskBatch, iteration: int) -> dict[str, Tensor]:
        """One meta-update; refuses to apply a non-finite loss or gradient."""
        if self.cfg.cosine:
            for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
                group["lr"] = base * cosine_factor(iteration, self.cfg.iterations)
        if self.fused is not None and self.reduce is None:
            return self.fused_step(batch, iteration)
        grads, loss, metrics = self.gradient(self.theta, self.inner_lrs, batch, iteration)
        if self.reduce is not None:  # several ranks: the mean over the global meta-batch
            grads, loss = self.reduce(grads, loss)
        if not bool(finite(loss, grads)):
            raise self.diverged(iteration)
        for name, variable in self.variables.items():
            variable.grad = grads[name]
        self.optimizer.step()
        with torch.no_grad():  # a negative step size would climb the task loss: learned ones stay >= 0
            for lrs in self.inner_lrs.values():
                lrs.clamp_(min=0.0)
        return metrics

    def fused_step(self, batch: TaskBatch, iteration: int) -> dict[str, Tensor]:
        """The meta-update as one compiled call; θ and the moments stay as they were if it was not finite."""
        assert self.fused is not None
        lr = self.optimizer.param_groups[0]["lr"]
        post, pre, ok = self.fused.update(self.plain, *self.moments, self.fused_steps + 1, lr, batch, iteration)
        if not bool(ok):
            raise self.diverged(iteration)
        self.fused_steps += 1
        return self.fused.metrics(post, pre)

    def diverged(self, iteration: int) -> TrainingDiverged:
        return TrainingDiverged(
            iteration,
            f"{self.algo} training loss became non-finite at iteration {iteration}; "
            "the last finite parameters are kept. Try a smaller inner or meta learning rate.",
        )

    def snapshot(self) -> Params:
        return {k: v.detach().cpu().clone() for k, v in self.theta.items()}

    def learned_lrs(self) -> Params | None:
        """Detached CPU copies of the learned inner step sizes, or None if it learns none."""
        return {k: v.detach().cpu().clone() for k, v in self.inner_lrs.items()} or None

    def inner_loop(self, lr: float | None = None) -> InnerLoop:
        """How this learner adapts at test time (its learned step sizes, else α = `lr` or the config's)."""
        lrs = {k: v.detach() for k, v in self.inner_lrs.items()}
        return inner_loop_for(self.cfg, lrs, lr, algo=self.algo)


def learner_names(cfg: TrainConfig, with_baseline: bool) -> list[str]:
    names = [cfg.algo]
    if with_baseline and cfg.algo not in ("pretrained", "oracle"):
        names.append("pretrained")
    return names


class Domain(Protocol):
    """What a task family supplies to the trainer (sinusoid regression, Omniglot classification)."""

    def initial_params(self, names: Sequence[str], generator: torch.Generator) -> dict[str, Params]: ...

    def gradient(self, algo: str) -> Gradient: ...

    def sample(self, n_tasks: int, generator: torch.Generator) -> Any: ...

    def validate(self, learners: Sequence[Learner]) -> dict[str, float]: ...


@dataclass(frozen=True)
class KeptIterate:
    """The trained learner as it was at its best validation so far (`Trainer(keep_best=True)`)."""

    iteration: int
    """The iteration (of this run) it was validated at."""
    value: float
    """Its selection figure there."""
    params: Params
    """Detached CPU copy of its θ."""
    inner_lrs: Params | None
    """Detached CPU copy of its learned inner step sizes, None where it learns none."""
    validation: dict[str, float]
    """Every figure of that validation."""


class BestIterate:
    """Keeps the trained learner's best iterate by one validation figure (`registry.SelectionMetric`).

    Fed each validation (on the rank that validates); keeps a CPU snapshot whenever the figure is the best so
    far, and remembers the latest one seen (the last iterate's, when the run ended with a validation).
    """

    def __init__(self, metric: registry.SelectionMetric) -> None:
        self.metric = metric
        self.kept: KeptIterate | None = None
        self.latest: tuple[int, float] | None = None
        """(iteration, figure) of the latest validation."""

    def consider(self, iteration: int, validation: dict[str, float], learner: Learner) -> bool:
        """Keep `learner` as it is now if its figure in `validation` is the best so far; returns whether it was."""
        if self.metric.key not in validation:
            raise ConfigError(
                f"the domain's validation reports no {self.metric.key!r} to keep the best iterate by "
                f"(it reports {', '.join(sorted(validation))})."
            )
        value = float(validation[self.metric.key])
        self.latest = (iteration, value)
        if not self.metric.better(value, None if self.kept is None else self.kept.value):
            return False
        self.kept = KeptIterate(iteration, value, learner.snapshot(), learner.learned_lrs(), dict(validation))
        return True

    def restore(self, learner: Learner) -> bool:
        """Put the kept θ (and step sizes) back into `learner`; False (nothing changed) if none was kept."""
        if self.kept is None:
            return False
        with torch.no_grad():
            for name, value in self.kept.params.items():
                learner.theta[name].copy_(value)
            for name, value in (self.kept.inner_lrs or {}).items():
                learner.inner_lrs[name].copy_(value)
        return True

    def record(self, trained: int) -> dict[str, object]:
        """What a file holding the kept iterate records of the choice (`trained`: iterations this run trained)."""
        kept, metric = self.kept, self.metric
        last = self.latest[1] if self.latest is not None and self.latest[0] == trained else None
        last = last if last is not None and math.isfinite(last) else None
        return {
            "chosen": kept is not None,
            "metric": metric.key,
            "higher_is_better": metric.higher_is_better,
            "iteration": kept.iteration if kept is not None else trained,
            "value": kept.value if kept is not None else None,
            "last_iteration": trained,
            "last_value": last,
        }

    def summary(self, trained: int) -> str:
        """One line, e.g. 'kept iteration 4,000 (val accuracy 97.1%) of 6,000'."""
        if self.kept is None:
            return f"kept the last iteration, {trained:,}: no validation ran before training ended"
        line = f"kept iteration {self.kept.iteration:,} ({self.metric.describe(self.kept.value)}) of {trained:,}"
        if self.latest is not None and self.latest[0] == trained and self.kept.iteration != trained:
            line += f"; the last had {self.metric.describe(self.latest[1])}"
        return line


class Trainer:
    """Meta-trains `cfg.algo` (and the pretrained baseline if asked) on one task stream.

    `iterate()` is the generator; the learners stay readable whenever it is suspended,
    stopped or has raised, so a consumer can always `snapshot()` what was trained so far.
    Deterministic for a seed on CPU. The task family is `cfg.domain`'s (see `registry`). `init` starts
    from given parameters per learner; `compile` compiles each sinusoid (FO-)MAML meta-iteration (see
    `gradient_for`; None: where the run is long enough, `fused.compile_by_default`). `keep_best` keeps the
    trained learner's (`learners[0]`'s, never the baseline's) best iterate by its domain's `selection` figure
    in `best`, fed by the validations, which run on the main rank only (so does the keeping: no collective).
    """

    def __init__(
        self,
        cfg: TrainConfig,
        *,
        with_baseline: bool = False,
        device: str | torch.device = "cpu",
        init: dict[str, Params] | None = None,
        compile: bool | None = False,
        ranks: Ranks = SINGLE,
        keep_best: bool = False,
    ) -> None:
        cfg.validate()
        self.cfg = cfg
        self.device = torch.device(device)
        self.generator = default_generator(cfg.seed)
        spec = registry.get(cfg.domain)
        self.domain = spec.trainer_domain(cfg, self.device, compile)
        names = learner_names(cfg, with_baseline)
        start = self.domain.initial_params(names, self.generator)
        make_learner = spec.learner or Learner  # e.g. 2D navigation's TRPO learner
        self.learners = [
            make_learner(name, cfg, (init or {}).get(name, start[name]), self.device, self.domain.gradient(name))
            for name in names
        ]
        self.ranks = ranks
        if ranks.world > 1:
            if not all(isinstance(learner, Learner) for learner in self.learners) or ranks.world > cfg.meta_batch:
                raise ConfigError(
                    f"{ranks.world} ranks cannot share this run: it needs a meta-gradient learner and at least one "
                    "task per rank."
                )
            for learner in self.learners:
                learner.reduce = reducer(ranks, cfg.meta_batch, self.device)
        self.iteration = 0
        self.last_validation: dict[str, float] = {}
        self.best: BestIterate | None = None
        if keep_best:
            if spec.selection is None:
                raise ConfigError(f"{spec.label} declares no validation figure to keep the best iterate by.")
            self.best = BestIterate(spec.selection(cfg, self.learners[0].algo))

    def broadcast(self) -> None:
        """Every rank continues from rank 0's parameters (at the start, after any `--init`)."""
        if self.ranks.world > 1:
            for learner in self.learners:
                broadcast({**learner.theta, **learner.inner_lrs})

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
            batch = self.domain.sample(cfg.meta_batch, self.generator)
            if self.ranks.world > 1:  # every rank draws the same meta-batch and trains on its share
                batch = take_tasks(batch, self.ranks.share(cfg.meta_batch))
            batch = batch.to(self.device)
            metrics: dict[str, Tensor] = {}
            for learner in self.learners:
                metrics.update(learner.step(batch, iteration))
            self.iteration = iteration
            losses = {k: float(v) for k, v in metrics.items()}
            validation = None
            if self.ranks.main and (iteration % cfg.val_every == 0 or iteration == cfg.iterations):
                validation = self.last_validation = self.domain.validate(self.learners)
                if self.best is not None:
                    self.best.consider(iteration, validation, self.learners[0])
            snapshot = self.snapshot() if snapshot_every and iteration % snapshot_every == 0 else None
            yield Progress(iteration, losses, validation, snapshot)


def train(cfg: TrainConfig, **kwargs: Any) -> Iterator[Progress]:
    """Shorthand for `Trainer(cfg, **kwargs).iterate()`."""
    return Trainer(cfg, **kwargs).iterate()
