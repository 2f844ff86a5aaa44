"""Policy-gradient pieces of MAML-TRPO, batched over tasks (each tensor of per-task parameters has a leading
task dimension N; no Python loop over tasks or trajectories).

- `fit_baseline`: rllab's `LinearFeatureBaseline`, refit per task on that task's trajectories: features
  (obs, obs², t/100, (t/100)², (t/100)³, 1), ridge-regularised least squares (1e-5) on the discounted returns.
- `advantages`: GAE(γ, λ) on the baseline's values; with the default λ = 1 this is the discounted return-to-go
  minus the baseline. Normalised per task (mean 0, std 1 over the steps taken), as the reference code does.
- `adapt`: the inner step, REINFORCE θ'ᵢ = θ − α ∇θ Lᵢ with Lᵢ = −mean over the steps taken of log π(a|s)·Âᵢ
  (Â fixed), for every task at once; `create_graph` keeps the step differentiable (second order).
- `meta_gradient`: the gradient of the post-update surrogate through the inner step (see its docstring for which
  estimator), `trpo_update`: the outer TRPO step (conjugate gradient on the Fisher–vector products of the mean
  KL, backtracking line search).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from mamlviz.core.model import Params
from mamlviz.core.nav2d.env import Trajectories
from mamlviz.core.nav2d.policy import expand_to_tasks, gaussian_kl, log_prob, log_std_like, policy_mean

BASELINE_RIDGE = 1e-5
TIME_SCALE = 100.0
"""rllab's features use t / 100."""


def features(observations: Tensor) -> Tensor:
    """(N, B, T, 2·in + 4) linear-baseline features of (N, B, T, in) observations."""
    obs = observations.clamp(-10, 10)
    steps = observations.shape[-2]
    t = (torch.arange(steps, dtype=obs.dtype, device=obs.device) / TIME_SCALE).reshape(steps, 1)
    t = t.expand(*obs.shape[:-1], 1)
    return torch.cat([obs, obs.square(), t, t.square(), t**3, torch.ones_like(t)], -1)


def discount_matrix(steps: int, factor: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """D with D[t, s] = factor^(s − t) for s ≥ t, else 0: x @ D.T sums factor-discounted futures."""
    t = torch.arange(steps, device=device)
    power = (t.reshape(1, -1) - t.reshape(-1, 1)).to(dtype)
    return torch.where(power >= 0, torch.tensor(factor, dtype=dtype, device=device) ** power.clamp(min=0), 0.0)


def discounted_returns(rewards: Tensor, gamma: float) -> Tensor:
    """(…, T) return-to-go Σ_{s ≥ t} γ^(s − t) r_s (rewards are zero after done)."""
    return rewards @ discount_matrix(rewards.shape[-1], gamma, rewards.dtype, rewards.device).T


def fit_baseline(traj: Trajectories, gamma: float, ridge: float = BASELINE_RIDGE) -> Tensor:
    """(N, B, T) values of the linear feature baseline fitted per task to the discounted returns (float64 solve)."""
    feats = features(traj.observations)
    masked = feats * traj.mask.unsqueeze(-1)
    returns = discounted_returns(traj.rewards, gamma)
    gram = torch.einsum("nbtf,nbtg->nfg", masked, masked).double()
    gram = gram + ridge * torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    target = torch.einsum("nbtf,nbt->nf", masked, returns).double()
    coeffs = torch.linalg.solve(gram, target).to(feats.dtype)
    return torch.einsum("nbtf,nf->nbt", feats, coeffs) * traj.mask


def masked_normalize(values: Tensor, mask: Tensor, eps: float = 1e-8) -> Tensor:
    """Per task (dim 0): mean 0, std 1 over the masked entries."""
    dims = tuple(range(1, values.dim()))
    count = mask.sum(dims, keepdim=True).clamp(min=1)
    mean = (values * mask).sum(dims, keepdim=True) / count
    var = ((values - mean).square() * mask).sum(dims, keepdim=True) / count
    return (values - mean) / (var.sqrt() + eps) * mask


def advantages(
    traj: Trajectories, gamma: float, gae_lambda: float = 1.0, normalize: bool = True, baseline: bool = True
) -> Tensor:
    """(N, B, T) GAE(γ, λ) advantages with the per-task linear baseline (zero where masked)."""
    values = fit_baseline(traj, gamma) if baseline else torch.zeros_like(traj.rewards)
    following = torch.cat([values[..., 1:], torch.zeros_like(values[..., :1])], -1)
    deltas = (traj.rewards + gamma * following - values) * traj.mask
    matrix = discount_matrix(deltas.shape[-1], gamma * gae_lambda, deltas.dtype, deltas.device)
    adv = (deltas @ matrix.T) * traj.mask
    return masked_normalize(adv, traj.mask) if normalize else adv


def per_task_mean(values: Tensor, mask: Tensor) -> Tensor:
    """(N,) mean over the steps taken of each task."""
    return (values * mask).sum((1, 2)) / mask.sum((1, 2)).clamp(min=1)


def inner_losses(params: Params, traj: Trajectories, adv: Tensor) -> Tensor:
    """(N,) REINFORCE losses −mean(log π(a|s)·Â) over each task's steps taken (params batched or shared)."""
    return -per_task_mean(log_prob(params, traj.observations, traj.actions) * adv, traj.mask)


def adapt(
    params: Params, traj: Trajectories, adv: Tensor, lr: float, create_graph: bool = False, grad_scale: float = 1.0
) -> Params:
    """One REINFORCE step per task: per-task parameters θ'ᵢ = θᵢ − α ∇Lᵢ (θ shared or batched).

    `create_graph`: keep the step differentiable with respect to θ (second order); otherwise the gradient is
    a constant (first order, or test-time adaptation). Needs autograd enabled.
    """
    tracked = torch.is_grad_enabled() and any(v.requires_grad for v in params.values())
    if tracked:
        batched = expand_to_tasks(params, traj.n_tasks)
    else:  # constants (e.g. test-time adaptation under no_grad): per-task leaves to differentiate the loss by
        batched = {k: v.detach().clone() for k, v in expand_to_tasks(params, traj.n_tasks).items()}
        batched = {k: v.requires_grad_(True) for k, v in batched.items()}
    with torch.enable_grad():
        loss = inner_losses(batched, traj, adv).sum()
        grads = torch.autograd.grad(loss, list(batched.values()), create_graph=create_graph and tracked)
    if not tracked:
        return {k: (v - lr * grad_scale * g).detach() for (k, v), g in zip(batched.items(), grads, strict=True)}
    return {k: v - lr * grad_scale * g for (k, v), g in zip(batched.items(), grads, strict=True)}


@dataclass
class PostBatch:
    """The post-update trajectories and what the surrogate keeps fixed of them."""

    traj: Trajectories
    adv: Tensor
    """(N, B, T) advantages (normalised unless asked otherwise)."""
    old_log_prob: Tensor
    """(N, B, T) log π_θ'(a|s) at the parameters that sampled them."""
    old_mean: Tensor
    old_log_std: Tensor


def post_batch(adapted: Params, traj: Trajectories, adv: Tensor) -> PostBatch:
    with torch.no_grad():
        detached = {k: v.detach() for k, v in adapted.items()}
        mean = policy_mean(detached, traj.observations)
        log_std = log_std_like(detached, mean).expand_as(mean)
        old = log_prob(detached, traj.observations, traj.actions)
    return PostBatch(traj, adv, old, mean, log_std)


def surrogate(adapted: Params, post: PostBatch) -> Tensor:
    """TRPO's loss −mean over tasks of mean(π'/π'_old · Â) over the steps taken (= the negated policy-gradient
    objective at the sampling parameters)."""
    ratio = torch.exp(log_prob(adapted, post.traj.observations, post.traj.actions) - post.old_log_prob)
    return -per_task_mean(ratio * post.adv, post.traj.mask).mean()


def mean_kl(adapted: Params, post: PostBatch) -> Tensor:
    """Mean over tasks and steps taken of KL(π'_old ‖ π') on the post-update observations."""
    mean = policy_mean(adapted, post.traj.observations)
    kl = gaussian_kl(post.old_mean, post.old_log_std, mean, log_std_like(adapted, mean).expand_as(mean))
    return per_task_mean(kl, post.traj.mask).mean()


def score_term(theta: Params, pre: Trajectories, post: PostBatch, gamma: float) -> Tensor:
    """DiCE's pre-update sampling term, as a loss whose value is 0 and whose gradient is
    −mean_i (Ĵᵢ − bᵢ) ∇θ log p(τᵢ; θ): τᵢ all pre-update trajectories of task i, Ĵᵢ the post-update objective
    on the surrogate's scale (the mean discounted return, divided by the mean episode length and, when the
    advantages are normalised, by their per-task std), bᵢ the mean of Ĵ over the other tasks (a baseline
    independent of task i's actions)."""
    mask, n = post.traj.mask, post.traj.n_tasks
    steps = mask.sum((1, 2))
    discounted = (discounted_returns(post.traj.rewards, gamma)[..., 0]).mean(1)
    scale = post.traj.mask.shape[1] / steps.clamp(min=1)
    value = (discounted * scale).detach()
    others = (value.sum() - value) / max(n - 1, 1) if n > 1 else torch.zeros_like(value)
    logp = (log_prob(expand_to_tasks(theta, n), pre.observations, pre.actions) * pre.mask).sum((1, 2))
    magic = torch.exp(logp - logp.detach())  # DiCE's magic box: 1 in value, ∇log p in gradient
    return -((magic - 1) * (value - others)).mean()


def flat(tensors: list[Tensor] | tuple[Tensor, ...]) -> Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def conjugate_gradient(fvp: Callable[[Tensor], Tensor], b: Tensor, iters: int, tol: float = 1e-10) -> Tensor:
    """Solve F x = b by conjugate gradient (`iters` iterations at most)."""
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr = r @ r
    for _ in range(iters):
        fp = fvp(p)
        alpha = rr / (p @ fp)
        x = x + alpha * p
        r = r - alpha * fp
        rr_new = r @ r
        if rr_new < tol:
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


@dataclass(frozen=True)
class TRPOStats:
    loss_before: float
    loss_after: float
    kl: float
    line_search_steps: int
    """Backtracking steps taken (0: the full step was accepted); -1 if no step was accepted."""


def trpo_update(
    variables: dict[str, Tensor],
    loss_and_kl: Callable[[bool], tuple[Tensor, Tensor]],
    max_kl: float,
    cg_iters: int,
    damping: float,
    backtrack: float,
    ls_steps: int,
    extra_loss: Callable[[], Tensor] | None = None,
) -> TRPOStats:
    """One TRPO step of `variables` (leaf tensors, changed in place).

    `loss_and_kl(differentiable)` evaluates the surrogate loss and the mean KL at the current values (with a graph
    for double backward when `differentiable`, else under no higher-order graph). `extra_loss` adds a gradient-only
    term (DiCE's score term); the line search then checks the surrogate plus that term's linearisation.
    """
    params = list(variables.values())
    loss, kl = loss_and_kl(True)
    objective = loss + extra_loss() if extra_loss is not None else loss
    grad = flat(torch.autograd.grad(objective, params, retain_graph=True)).detach()
    kl_grad = flat(torch.autograd.grad(kl, params, create_graph=True))

    def fvp(v: Tensor) -> Tensor:
        return flat(torch.autograd.grad(kl_grad @ v, params, retain_graph=True)).detach() + damping * v

    direction = conjugate_gradient(fvp, -grad, cg_iters)
    shs = 0.5 * (direction @ fvp(direction))
    if not bool(torch.isfinite(shs)) or shs <= 0:
        return TRPOStats(float(loss.detach()), float(loss.detach()), 0.0, -1)
    full_step = direction * torch.sqrt(2 * max_kl / (2 * shs))
    old = [p.detach().clone() for p in params]
    loss_before = float(loss.detach())
    extra_slope = 0.0
    if extra_loss is not None:
        extra_slope = float((grad - flat(torch.autograd.grad(loss, params, retain_graph=True))) @ full_step)
    fraction = 1.0
    for attempt in range(ls_steps):
        with torch.no_grad():
            offset = 0
            for p, start in zip(params, old, strict=True):
                size = p.numel()
                p.copy_(start + fraction * full_step[offset : offset + size].reshape(p.shape))
                offset += size
        new_loss, new_kl = loss_and_kl(False)
        improve = float(new_loss) - loss_before + fraction * extra_slope
        if bool(torch.isfinite(new_loss)) and improve < 0 and float(new_kl) <= max_kl:
            return TRPOStats(loss_before, float(new_loss), float(new_kl), attempt)
        fraction *= backtrack
    with torch.no_grad():
        for p, start in zip(params, old, strict=True):
            p.copy_(start)
    return TRPOStats(loss_before, loss_before, 0.0, -1)
