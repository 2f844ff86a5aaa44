"""The MAML family, batched over the tasks of a meta-batch.

MAML / first-order MAML / ANIL / Meta-SGD / MAML++ (through `InnerLoop` and `maml_loss`),
Reptile (`reptile_loss`), and the pretrained and oracle regressors. All functions take
parameters as a dict of tensors (see `model.py`) and a `TaskBatch`; no Python loop runs over tasks.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from mamlviz.core.config import TrainConfig
from mamlviz.core.data import TaskBatch
from mamlviz.core.model import (
    Params,
    expand_to_tasks,
    forward,
    layer_names,
    mse_backprop,
    mse_hessian_vector_product,
    mse_loss_and_grad,
    mse_per_task,
)


@dataclass(frozen=True)
class InnerLoop:
    """How an initialization adapts to a task: SGD with fixed or learned step sizes, on all layers or some."""

    lr: float = 0.01
    """Step size α of every parameter without a learned one."""
    learned_lrs: Params | None = None
    """Learned step sizes (Meta-SGD, MAML++ LSLR): name -> (S, ...) broadcastable to the parameter;
    inner step s uses row min(s, S − 1), so an init trained with S steps can adapt for longer."""
    adapted: tuple[str, ...] | None = None
    """Names of the parameters the inner loop moves (None: all; ANIL: the last layer; the oracle: none,
    as in the paper, where it is a flat reference line)."""
    task_inputs: bool = False
    """The oracle: the network also receives the task's amplitude and phase as inputs."""

    def step_size(self, name: str, step: int) -> float | Tensor:
        if self.learned_lrs is None or name not in self.learned_lrs:
            return self.lr
        lrs = self.learned_lrs[name]
        return lrs[min(step, lrs.shape[0] - 1)]

    def to(self, like: Tensor) -> InnerLoop:
        """The same loop with learned step sizes on `like`'s device and dtype."""
        if self.learned_lrs is None:
            return self
        return dataclasses.replace(self, learned_lrs={k: v.to(like) for k, v in self.learned_lrs.items()})


def inner_loop_for(
    cfg: TrainConfig, learned_lrs: Params | None = None, lr: float | None = None, algo: str | None = None
) -> InnerLoop:
    """The inner loop an algorithm trains with and is tested with (`lr` overrides cfg.inner_lr).

    ANIL adapts only the last layer; the oracle, which sees the task's amplitude and phase, is not adapted."""
    algo = algo or cfg.algo
    adapted = {"anil": layer_names(cfg.model)[-1], "oracle": ()}.get(algo)
    return InnerLoop(cfg.inner_lr if lr is None else lr, learned_lrs or None, adapted, algo == "oracle")


def initial_inner_lrs(algo: str, cfg: TrainConfig, theta: Params) -> Params:
    """Learnable step sizes, all α at first: per parameter (Meta-SGD) or per layer and step (LSLR)."""
    if algo == "metasgd":
        return {k: torch.full((1, *v.shape), cfg.inner_lr, dtype=v.dtype, device=v.device) for k, v in theta.items()}
    if cfg.lslr and algo in ("maml", "anil"):
        adapted = inner_loop_for(cfg, algo=algo).adapted
        names = tuple(theta) if adapted is None else adapted
        return {
            k: torch.full((cfg.inner_steps, *[1] * theta[k].dim()), cfg.inner_lr, dtype=theta[k].dtype) for k in names
        }
    return {}


def with_task_inputs(batch: TaskBatch) -> TaskBatch:
    """The oracle's view of a batch: inputs (x, amplitude, phase) of shape (T, N, 3)."""

    def extend(x: Tensor) -> Tensor:
        task = torch.stack([batch.amplitude, batch.phase], -1).to(x)[:, None, :]
        return torch.cat([x, task.expand(x.shape[0], x.shape[1], 2)], -1)

    return dataclasses.replace(batch, support_x=extend(batch.support_x), query_x=extend(batch.query_x))


def sgd_steps(
    params: Params, x: Tensor, y: Tensor, lr: float | InnerLoop, steps: int, *, first_order: bool = False
) -> list[Params]:
    """SGD on each task's support set: the parameters after 0, 1, ..., steps updates.

    `params` carry a task dimension. `lr` is a step size or an `InnerLoop` (learned step sizes,
    adapted subset). Differentiable through every step unless `first_order`, which stops the
    gradient at each inner gradient (the first-order MAML approximation).
    """
    loop = lr if isinstance(lr, InnerLoop) else InnerLoop(lr)
    names = tuple(params) if loop.adapted is None else loop.adapted
    trajectory = [params]
    plain = loop.adapted is None and loop.learned_lrs is None and not first_order
    for step in range(steps):
        _, grads = mse_loss_and_grad(params, x, y)
        if plain:  # one fused update of every tensor
            params = _axpy(params, grads, -loop.lr)
        else:
            params = dict(params)
            for k in names:
                grad = grads[k].detach() if first_order else grads[k]
                params[k] = params[k] - loop.step_size(k, step) * grad
        trajectory.append(params)
    return trajectory


def maml_loss(
    theta: Params,
    batch: TaskBatch,
    inner_lr: float | InnerLoop,
    inner_steps: int,
    *,
    first_order: bool = False,
    step_weights: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Mean query loss after adaptation (differentiable w.r.t. θ and learned step sizes) and before it (detached).

    The gradient of the first is the exact second-order MAML meta-gradient, or the first-order
    one when `first_order` is set. With `step_weights` (inner_steps,), the loss is the MAML++
    multi-step loss: the weighted sum of the query losses after each inner step.
    """
    n_tasks = batch.support_x.shape[0]
    shared = expand_to_tasks(theta, n_tasks)
    trajectory = sgd_steps(shared, batch.support_x, batch.support_y, inner_lr, inner_steps, first_order=first_order)
    if step_weights is None:
        post = mse_per_task(forward(trajectory[-1], batch.query_x), batch.query_y).mean()
    else:
        losses = torch.stack([mse_per_task(forward(p, batch.query_x), batch.query_y).mean() for p in trajectory[1:]])
        post = (step_weights.to(losses) * losses).sum()
    with torch.no_grad():
        pre = mse_per_task(forward(shared, batch.query_x), batch.query_y).mean()
    return post, pre


def msl_weights(steps: int, iteration: int, anneal_iterations: int) -> Tensor:
    """MAML++ multi-step loss weights (sum to one): uniform at first, then linearly moved to the last step.

    Every earlier step keeps at least 0.03 / steps (as in the MAML++ reference code).
    """
    progress = min(max(iteration - 1, 0) / max(anneal_iterations, 1), 1.0)
    early = torch.full((steps - 1,), max((1.0 - progress) / steps, 0.03 / steps), dtype=torch.float64)
    return torch.cat([early, (1.0 - early.sum()).reshape(1)])


def cosine_factor(iteration: int, iterations: int) -> float:
    """Cosine annealing from 1 at iteration 1 to 0 after the last iteration."""
    return 0.5 * (1.0 + math.cos(math.pi * (iteration - 1) / max(iterations, 1)))


def reptile_loss(theta: Params, batch: TaskBatch, inner_lr: float | InnerLoop, inner_steps: int) -> tuple[Tensor, ...]:
    """Reptile as a surrogate: a loss whose gradient w.r.t. θ is mean_i(θ − φ_i).

    φ_i is θ after `inner_steps` SGD steps on all points of task i (Reptile has no support/query
    split), so one plain SGD step with learning rate ε gives θ ← θ + ε·mean_i(φ_i − θ) exactly.
    Returns (surrogate, training loss before adaptation, after it); the last two are detached.
    """
    x = torch.cat([batch.support_x, batch.query_x], dim=1)
    y = torch.cat([batch.support_y, batch.query_y], dim=1)
    with torch.no_grad():
        shared = expand_to_tasks({k: v.detach() for k, v in theta.items()}, x.shape[0])
        adapted = sgd_steps(shared, x, y, inner_lr, inner_steps)[-1]
        target = {k: v.mean(0) for k, v in adapted.items()}
        pre = mse_per_task(forward(shared, x), y).mean()
        post = mse_per_task(forward(adapted, x), y).mean()
    surrogate = sum(0.5 * (theta[k] - target[k]).pow(2).sum() for k in theta)
    return surrogate, pre, post


def maml_meta_gradient(
    theta: Params, batch: TaskBatch, inner_lr: float, inner_steps: int, *, first_order: bool = False
) -> tuple[Params, Tensor, Tensor]:
    """The MAML meta-gradient of `maml_loss` computed without autograd (the fast path).

    Reverse mode through the inner SGD steps by hand: the query gradient at the adapted
    parameters is pulled back through each step φ ↦ φ − α∇L(φ) as u ↦ u − α·H·u, with
    exact Hessian-vector products (`mse_hessian_vector_product`); first order skips that.
    Returns (meta-gradient, query loss after adaptation, query loss before it).
    """
    with torch.no_grad():
        n_tasks = batch.support_x.shape[0]
        params = theta  # shared by every task until the first inner step
        pre = mse_per_task(forward(theta, batch.query_x), batch.query_y).mean()
        visited = []
        for _ in range(inner_steps):
            _, grads, cache = mse_backprop(params, batch.support_x, batch.support_y)
            visited.append((params, cache))
            params = _axpy(params, grads, -inner_lr)
        post, cotangent, _ = mse_backprop(params, batch.query_x, batch.query_y)
        if first_order or not visited:
            total = {k: v.sum(0) for k, v in cotangent.items()}
        else:
            for params, cache in reversed(visited[1:]):
                product = mse_hessian_vector_product(params, cache, cotangent)
                cotangent = _axpy(cotangent, product, -inner_lr)
            params, cache = visited[0]  # at θ the tasks' products are summed in one matrix product each
            product = mse_hessian_vector_product(params, cache, cotangent, summed=True)
            total = _axpy({k: v.sum(0) for k, v in cotangent.items()}, product, -inner_lr)
        meta_gradient = dict(zip(total, torch._foreach_div(list(total.values()), n_tasks), strict=True))
        return meta_gradient, post.mean(), pre


def _axpy(x: Params, y: Params, alpha: float) -> Params:
    """x + alpha·y for every tensor, in one fused call."""
    return dict(zip(x, torch._foreach_add(list(x.values()), [y[k] for k in x], alpha=alpha), strict=True))


def pretrained_gradient(theta: Params, batch: TaskBatch) -> tuple[Params, Tensor]:
    """Joint regression on every point of every task: the paper's pretrained baseline (and, given
    `with_task_inputs(batch)`, the oracle). Returns the gradient of θ (hand-written backward) and the loss.

    Every task has as many points, so the mean of the per-task MSEs is the MSE over all points:
    one regression set of T·N points, one backward pass.
    """
    x = torch.cat([batch.support_x, batch.query_x], dim=1)
    y = torch.cat([batch.support_y, batch.query_y], dim=1)
    loss, grads = mse_loss_and_grad(
        {k: v.unsqueeze(0) for k, v in theta.items()}, x.reshape(1, -1, x.shape[-1]), y.reshape(1, -1, y.shape[-1])
    )
    return {k: g[0] for k, g in grads.items()}, loss[0]


def joint_gradient(theta: Params, batch: TaskBatch, oracle: bool) -> tuple[Params, Tensor]:
    """A joint regressor's `pretrained_gradient`, outside autograd: the pretrained baseline's, or the oracle's (which
    also sees each task's amplitude and phase)."""
    with torch.no_grad():
        return pretrained_gradient(theta, with_task_inputs(batch) if oracle else batch)
