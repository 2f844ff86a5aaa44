"""MAML, first-order MAML and the pretrained baseline, batched over the tasks of a meta-batch.

All functions take parameters as a dict of tensors (see `model.py`) and a `TaskBatch`; no
Python loop runs over tasks.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mamlviz.core.model import (
    Params,
    expand_to_tasks,
    forward,
    mse_backprop,
    mse_hessian_vector_product,
    mse_loss_and_grad,
    mse_per_task,
)
from mamlviz.core.tasks import TaskBatch


def sgd_steps(
    params: Params, x: Tensor, y: Tensor, lr: float, steps: int, *, first_order: bool = False
) -> list[Params]:
    """Plain SGD on each task's support set: the parameters after 0, 1, ..., steps updates.

    `params` carry a task dimension. Differentiable through every step unless `first_order`,
    which stops the gradient at each inner gradient (the first-order MAML approximation).
    """
    trajectory = [params]
    for _ in range(steps):
        _, grads = mse_loss_and_grad(params, x, y)
        if first_order:
            grads = {k: g.detach() for k, g in grads.items()}
        params = {k: params[k] - lr * grads[k] for k in params}
        trajectory.append(params)
    return trajectory


def maml_loss(
    theta: Params, batch: TaskBatch, inner_lr: float, inner_steps: int, *, first_order: bool = False
) -> tuple[Tensor, Tensor]:
    """Mean query loss after adaptation (differentiable w.r.t. θ) and before it (detached).

    The gradient of the first is the exact second-order MAML meta-gradient, or the
    first-order one when `first_order` is set.
    """
    n_tasks = batch.support_x.shape[0]
    shared = expand_to_tasks(theta, n_tasks)
    adapted = sgd_steps(shared, batch.support_x, batch.support_y, inner_lr, inner_steps, first_order=first_order)[-1]
    post = mse_per_task(forward(adapted, batch.query_x), batch.query_y).mean()
    with torch.no_grad():
        pre = mse_per_task(forward(shared, batch.query_x), batch.query_y).mean()
    return post, pre


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
        params = expand_to_tasks(theta, n_tasks)
        pre = mse_per_task(forward(params, batch.query_x), batch.query_y).mean()
        visited = []
        for _ in range(inner_steps):
            _, grads, cache = mse_backprop(params, batch.support_x, batch.support_y)
            visited.append((params, cache))
            params = _axpy(params, grads, -inner_lr)
        post, cotangent, _ = mse_backprop(params, batch.query_x, batch.query_y)
        if not first_order:
            for params, cache in reversed(visited):
                product = mse_hessian_vector_product(params, cache, cotangent)
                cotangent = _axpy(cotangent, product, -inner_lr)
        meta_gradient = dict(
            zip(cotangent, torch._foreach_div([v.sum(0) for v in cotangent.values()], n_tasks), strict=True)
        )
        return meta_gradient, post.mean(), pre


def _axpy(x: Params, y: Params, alpha: float) -> Params:
    """x + alpha·y for every tensor, in one fused call."""
    return dict(zip(x, torch._foreach_add(list(x.values()), [y[k] for k in x], alpha=alpha), strict=True))


def pretrained_loss(theta: Params, batch: TaskBatch) -> Tensor:
    """Joint regression on every point of every task: the paper's pretrained baseline."""
    x = torch.cat([batch.support_x, batch.query_x], dim=1)
    y = torch.cat([batch.support_y, batch.query_y], dim=1)
    return mse_per_task(forward(expand_to_tasks(theta, x.shape[0]), x), y).mean()
