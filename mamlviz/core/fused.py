"""The whole (FO-)MAML meta-iteration as one compiled call: meta-gradient, finite check and Adam update; the
same for a step of the joint regressors (the pretrained baseline, the oracle).

`torch.compile` (Inductor with its C++ wrapper) turns the hand-written gradients of `algorithms.py` and an
Adam update into one program with no Python between its operations. Inductor caches what it compiled on disk
(`TORCHINDUCTOR_CACHE_DIR`, by default under the temporary directory), so a later run on the same machine pays a
few seconds instead of the whole compile. `benchmarks/bench_core.py` times it against the eager path.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mamlviz.core import vector_isa
from mamlviz.core.algorithms import joint_gradient, maml_meta_gradient
from mamlviz.core.config import TrainConfig
from mamlviz.core.data import TaskBatch
from mamlviz.core.model import Params

Gradient = Any
"""`train.Gradient` (not imported: `train` imports this module)."""

FUSED_ALGORITHMS = ("maml", "fomaml")
JOINT_ALGORITHMS = ("pretrained", "oracle")
"""The joint regressors, whose hand-written gradient `joint_update` compiles."""
COMPILE_PAYS_FROM = 20_000
"""Iterations from which compiling pays for itself on a cold cache (about 15 s to compile, then twice as fast)."""
COMPILE_COST = "about 15 s the first time on this machine, a few seconds after"
"""What the first compiled call costs (Inductor keeps what it compiled in its on-disk cache), as the CLI and the app
say it."""
BETAS = (0.9, 0.999)
EPS = 1e-8
"""torch.optim.Adam's defaults, which the eager learners use."""


def fusable(cfg: TrainConfig, algo: str | None = None) -> bool:
    """Whether `algo` (default cfg.algo) trains with a hand-written gradient that `MetaUpdate` compiles: (FO-)MAML
    without MSL or LSLR, and the joint regressors."""
    algo = algo or cfg.algo
    return algo in JOINT_ALGORITHMS or (algo in FUSED_ALGORITHMS and not (cfg.msl or cfg.lslr))


def compile_by_default(cfg: TrainConfig) -> bool:
    """What `--compile auto` chooses for a regression run: compile where it wins back the compile time."""
    return fusable(cfg) and cfg.iterations >= COMPILE_PAYS_FROM


def finite(loss: Tensor, grads: Params) -> Tensor:
    """Whether a loss and every gradient are finite, as one boolean tensor (no host synchronisation)."""
    return torch.isfinite(loss + sum(g.sum() for g in grads.values()))


def adam_in_place(
    theta: Params, exp_avg: Params, exp_avg_sq: Params, step: Tensor, lr: Tensor, grads: Params, ok: Tensor
) -> None:
    """torch.optim.Adam's update of θ and its moments, in place; nothing moves where `ok` is False. `step` is
    Adam's step count including this one."""
    beta1, beta2 = BETAS
    step_size = lr / (1 - beta1**step)
    root_correction = (1 - beta2**step).sqrt()
    for name, param in theta.items():
        grad = grads[name]
        moment = torch.where(ok, beta1 * exp_avg[name] + (1 - beta1) * grad, exp_avg[name])
        second = torch.where(ok, beta2 * exp_avg_sq[name] + (1 - beta2) * grad * grad, exp_avg_sq[name])
        param.sub_(torch.where(ok, step_size * moment / (second.sqrt() / root_correction + EPS), 0.0))
        exp_avg[name].copy_(moment)
        exp_avg_sq[name].copy_(second)


def meta_update(
    theta: Params,
    exp_avg: Params,
    exp_avg_sq: Params,
    step: Tensor,
    lr: Tensor,
    batch: TaskBatch,
    inner_lr: float,
    inner_steps: int,
    first_order: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """One meta-iteration in place: θ and Adam's moments move only if the loss and meta-gradient are finite.

    Returns (query loss after adaptation, before it, finite).
    """
    grads, post, pre = maml_meta_gradient(theta, batch, inner_lr, inner_steps, first_order=first_order)
    ok = finite(post, grads)
    adam_in_place(theta, exp_avg, exp_avg_sq, step, lr, grads, ok)
    return post, pre, ok


def joint_update(
    theta: Params, exp_avg: Params, exp_avg_sq: Params, step: Tensor, lr: Tensor, batch: TaskBatch, oracle: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """One step of a joint regressor in place (the pretrained baseline; the oracle, which also sees each task's
    parameters), moving only if finite. Returns (loss, loss, finite), shaped like `meta_update`'s."""
    grads, loss = joint_gradient(theta, batch, oracle)
    ok = finite(loss, grads)
    adam_in_place(theta, exp_avg, exp_avg_sq, step, lr, grads, ok)
    return loss, loss, ok


class MetaUpdate:
    """A compiled `meta_update` (or `joint_update`, for a joint regressor) for one algorithm and config; called as
    `gradient`, the eager gradient (what a learner shared by several ranks needs, as it all-reduces the gradient
    before its update)."""

    def __init__(self, algo: str, cfg: TrainConfig, gradient: Gradient, compile: bool = True) -> None:
        self.algo, self.cfg, self.gradient = algo, cfg, gradient
        self.joint = algo in JOINT_ALGORITHMS
        program = joint_update if self.joint else meta_update
        self.call = torch.compile(program, dynamic=False) if compile else program
        self.compiled: set[tuple] = set()
        """The programs compiled so far, by `program_at` (none when `compiling` is False: nothing compiles)."""
        self.compiling = compile
        self.scalars: dict[str, tuple[Tensor, float]] = {}
        """Adam's step count and learning rate as the tensors each call takes, with their values (see `_scalar`)."""

    def __call__(self, theta: Params, lrs: Params, batch: TaskBatch, iteration: int) -> Any:
        return self.gradient(theta, lrs, batch, iteration)

    def _scalar(self, name: str, value: float, like: Params) -> Tensor:
        """`value` as a 0-d tensor like θ's, kept between calls and refilled only when it changes (cheaper than a new
        tensor each iteration)."""
        held = self.scalars.get(name)
        if held is None:
            template = next(iter(like.values()))
            held = (torch.tensor(value, dtype=template.dtype, device=template.device), value)
        elif held[1] != value:
            held = (held[0].fill_(value), value)
        self.scalars[name] = held
        return held[0]

    def first_order_at(self, iteration: int) -> bool:
        """Whether the meta-gradient at `iteration` is first order (FO-MAML, MAML++'s first iterations)."""
        return self.algo == "fomaml" or iteration <= self.cfg.first_order_until

    def program_at(self, iteration: int) -> tuple:
        """The static arguments of the program `update` runs at `iteration` (each tuple is one compiled program)."""
        if self.joint:
            return (self.algo == "oracle",)
        return (self.cfg.inner_lr, self.cfg.inner_steps, self.first_order_at(iteration))

    def compiles_at(self, iteration: int) -> bool:
        """Whether `update` at `iteration` compiles its program first (seconds, where the others take microseconds)."""
        return self.compiling and self.program_at(iteration) not in self.compiled

    def metrics(self, post: Tensor, pre: Tensor) -> dict[str, Tensor]:
        """The learner's metrics of one `update` (the same keys as its eager gradient's)."""
        return {self.algo: post} if self.joint else {f"{self.algo}/pre": pre, f"{self.algo}/post": post}

    def update(
        self, theta: Params, exp_avg: Params, exp_avg_sq: Params, step: int, lr: float, batch: TaskBatch, iteration: int
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The program with Adam's step count `step` (this one included) and learning rate `lr`."""
        program = self.program_at(iteration)
        args = (theta, exp_avg, exp_avg_sq, self._scalar("step", float(step), theta), self._scalar("lr", lr, theta))
        if not self.compiling or program in self.compiled:  # `compiles_at`, without building `program` again
            return self.call(*args, batch, *program)
        self.compiled.add(program)
        from torch._inductor import config as inductor_config  # seconds to import: only when compiling

        # Inductor's C++ wrapper calls the kernels with no Python in between (1.2x here). It is set only while
        # compiling: options given to torch.compile are re-applied on every call, at 8% of an iteration.
        settings = vector_isa.inductor_settings()
        with inductor_config.patch({"cpp_wrapper": True, **settings}):
            result = self.call(*args, batch, *program)
        if not settings:
            vector_isa.remember()
        return result
