"""The whole (FO-)MAML meta-iteration as one compiled call: meta-gradient, finite check and Adam update; the
same for a step of the joint regressors (the pretrained baseline, the oracle).

AOTInductor (`aot`) turns the hand-written gradients of `algorithms.py` and an Adam update into one C++ program with
no Python between its operations, kept on disk per machine: the first run on a machine compiles it, later ones load
it. `benchmarks/bench_core.py` times it against the eager path.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mamlviz.core import aot
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
"""Iterations from which compiling pays for itself on a cold cache (about 30 s to compile MAML's program and the
baseline's, then each iteration 1.8 ms shorter: from about 16,000 on)."""
COMPILE_COST = "about 30 s the first time on this machine, then loaded from its cache in milliseconds"
"""What the first compiled call costs (`aot` keeps the compiled programs on disk), as the CLI and the app say it."""
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


class FlatProgram(torch.nn.Module):
    """`meta_update` or `joint_update` with its static arguments bound, taking its tensors as one flat list (θ, the
    two moments, step, lr, then the batch's fields), which is what `aot` exports and its packages are called with."""

    def __init__(self, program: Any, static: tuple, names: list[str]) -> None:
        super().__init__()
        self.program, self.static, self.names = program, static, names

    def forward(self, *flat: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        n = len(self.names)
        theta, exp_avg, exp_avg_sq = (dict(zip(self.names, flat[i * n : (i + 1) * n], strict=True)) for i in range(3))
        return self.program(
            theta, exp_avg, exp_avg_sq, flat[3 * n], flat[3 * n + 1], TaskBatch(*flat[3 * n + 2 :]), *self.static
        )


def flat_inputs(
    theta: Params, exp_avg: Params, exp_avg_sq: Params, step: Tensor, lr: Tensor, batch: TaskBatch
) -> list[Tensor]:
    """The tensors of one update in `FlatProgram`'s order."""
    fields = [getattr(batch, name) for name in TaskBatch.__dataclass_fields__]
    return [*theta.values(), *exp_avg.values(), *exp_avg_sq.values(), step, lr, *fields]


class MetaUpdate:
    """A compiled `meta_update` (or `joint_update`, for a joint regressor) for one algorithm and config; called as
    `gradient`, the eager gradient (what a learner shared by several ranks needs, as it all-reduces the gradient
    before its update).

    Each program (`program_at`) is compiled ahead of time into a package that `aot` keeps per machine, so only the
    first run on a machine pays the compile (`COMPILE_COST`); later ones load it in milliseconds.
    """

    def __init__(self, algo: str, cfg: TrainConfig, gradient: Gradient, compile: bool = True) -> None:
        self.algo, self.cfg, self.gradient = algo, cfg, gradient
        self.joint = algo in JOINT_ALGORITHMS
        self.program = joint_update if self.joint else meta_update
        self.loaded: dict[tuple, aot.Program] = {}
        """The programs loaded so far, by `program_at` (none when `compiling` is False: nothing compiles)."""
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
        """Whether `update` at `iteration` first compiles its program, or loads it from this machine's cache
        (seconds the first time on a machine, where the calls take microseconds)."""
        return self.compiling and self.program_at(iteration) not in self.loaded

    def metrics(self, post: Tensor, pre: Tensor) -> dict[str, Tensor]:
        """The learner's metrics of one `update` (the same keys as its eager gradient's)."""
        return {self.algo: post} if self.joint else {f"{self.algo}/pre": pre, f"{self.algo}/post": post}

    def update(
        self, theta: Params, exp_avg: Params, exp_avg_sq: Params, step: int, lr: float, batch: TaskBatch, iteration: int
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The program with Adam's step count `step` (this one included) and learning rate `lr`."""
        static = self.program_at(iteration)
        scalars = self._scalar("step", float(step), theta), self._scalar("lr", lr, theta)
        if not self.compiling:
            return self.program(theta, exp_avg, exp_avg_sq, *scalars, batch, *static)
        flat = flat_inputs(theta, exp_avg, exp_avg_sq, *scalars, batch)
        run = self.loaded.get(static)
        if run is None:
            module = FlatProgram(self.program, static, list(theta))
            run = self.loaded[static] = aot.load_or_compile(
                module, flat, f"{self.program.__name__}{static}{list(theta)}"
            )
        post, pre, ok = run(flat)
        return post, pre, ok
