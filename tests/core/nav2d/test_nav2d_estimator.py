"""Which gradient the MAML meta-gradient estimators compute, checked on a problem small enough to get the truth
by many samples (float64): a 1-step horizon, so the post-update objective J(θ') = E[−‖clip(a') − g‖] of a
Gaussian policy, and the meta-objective F(θ) = E_τ[J(θ'(θ, τ))] with θ' the package's REINFORCE step.

The truth is a pathwise (reparameterised) Monte-Carlo gradient, independent of the estimators: actions
a = μ_θ + σ_θ·ε, so F(θ) = E_ε[J(θ'(θ, a(θ, ε)))] is differentiated through the inner step's θ-slot (data held
fixed: what the reference surrogate differentiates) and through the sampled data (the pre-update sampling term
that the reference drops and DiCE restores).
"""

from __future__ import annotations

import math

import pytest
import torch

from mamlviz.core.config import ModelConfig
from mamlviz.core.nav2d.env import Trajectories, step
from mamlviz.core.nav2d.policy import LOG_STD, init_policy, policy_mean
from mamlviz.core.nav2d.rl import adapt, advantages, post_batch, score_term, surrogate

DT = torch.float64
GOAL = (0.3, -0.2)
ALPHA = 0.1
GAMMA = 0.99
PRE, POST = 10, 20
"""Trajectories per inner step, and post-update trajectories per task."""
CHUNKS, PER_CHUNK = 16, 2500


def _theta() -> dict[str, torch.Tensor]:
    params = init_policy(
        ModelConfig(hidden=(8, 8), in_features=2, out_features=2), torch.Generator().manual_seed(3), DT
    )
    params[LOG_STD] = torch.full((2,), math.log(0.2), dtype=DT)
    return {k: v.requires_grad_(True) for k, v in params.items()}


def _one_step(actions: torch.Tensor, n: int) -> Trajectories:
    """Trajectories of one step from (0, 0) with the given (n, B, 2) actions (rewards keep their graph)."""
    goal = torch.tensor(GOAL, dtype=DT)
    zeros = torch.zeros_like(actions)
    moved, reward, _ = step(zeros, actions, goal)
    b = actions.shape[1]
    return Trajectories(
        zeros.unsqueeze(2),
        actions.unsqueeze(2),
        reward.unsqueeze(2),
        torch.ones(n, b, 1, dtype=DT),
        torch.stack([zeros, moved], 2),
        goal.expand(n, 2),
    )


def _sample(theta, eps):
    mean = policy_mean(theta, torch.zeros(1, 2, dtype=DT))
    return mean + torch.exp(theta[LOG_STD]) * eps


def _pathwise(theta, eps_pre, eps_post):
    """(∇ through the θ-slot only, ∇ through θ-slot and data) of the mean post-update return."""
    theta_b = {k: v.detach().clone().requires_grad_(True) for k, v in theta.items()}
    n = eps_pre.shape[0]
    pre = _one_step(_sample(theta_b, eps_pre), n)
    adapted = adapt(theta, pre, advantages(pre, GAMMA), ALPHA, create_graph=True)
    mean = policy_mean(adapted, torch.zeros(n, 1, 2, dtype=DT))
    actions = mean + torch.exp(adapted[LOG_STD]).unsqueeze(1) * eps_post
    objective = _one_step(actions, n).rewards.mean()
    slot = torch.autograd.grad(objective, list(theta.values()), retain_graph=True)
    data = torch.autograd.grad(objective, list(theta_b.values()))
    flat = lambda grads: torch.cat([g.reshape(-1) for g in grads])  # noqa: E731
    return flat(slot), flat(slot) + flat(data)


def _estimators(theta, eps_pre, eps_post):
    """(reference, DiCE) meta-gradient estimates of the mean post-update return (ascent direction)."""
    n = eps_pre.shape[0]
    with torch.no_grad():
        pre = _one_step(_sample(theta, eps_pre), n)
    adapted = adapt(theta, pre, advantages(pre, GAMMA), ALPHA, create_graph=True)
    with torch.no_grad():
        mean = policy_mean(adapted, torch.zeros(n, 1, 2, dtype=DT))
        post_traj = _one_step(mean + torch.exp(adapted[LOG_STD]).unsqueeze(1) * eps_post, n)
    post = post_batch(adapted, post_traj, advantages(post_traj, GAMMA, normalize=False, baseline=False))
    loss = surrogate(adapted, post)
    reference = torch.autograd.grad(loss, list(theta.values()), retain_graph=True)
    dice = torch.autograd.grad(loss + score_term(theta, pre, post, GAMMA), list(theta.values()))
    flat = lambda grads: torch.cat([-g.reshape(-1) for g in grads])  # noqa: E731
    return flat(reference), flat(dice)


@pytest.fixture(scope="module")
def gradients():
    theta = _theta()
    generator = torch.Generator().manual_seed(11)
    rows = {"truth_ref": [], "truth_full": [], "reference": [], "dice": []}
    for _ in range(CHUNKS):
        eps_pre = torch.randn(PER_CHUNK, PRE, 2, generator=generator, dtype=DT)
        eps_post = torch.randn(PER_CHUNK, POST, 2, generator=generator, dtype=DT)
        truth_ref, truth_full = _pathwise(theta, eps_pre, eps_post)
        eps_pre = torch.randn(PER_CHUNK, PRE, 2, generator=generator, dtype=DT)
        eps_post = torch.randn(PER_CHUNK, POST, 2, generator=generator, dtype=DT)
        reference, dice = _estimators(theta, eps_pre, eps_post)
        for name, value in zip(rows, (truth_ref, truth_full, reference, dice), strict=True):
            rows[name].append(value)
    stacked = {name: torch.stack(values) for name, values in rows.items()}
    return {name: (v.mean(0), v.std(0) / math.sqrt(CHUNKS)) for name, v in stacked.items()}


def _z(gradients, a: str, b: str) -> torch.Tensor:
    (mean_a, se_a), (mean_b, se_b) = gradients[a], gradients[b]
    return (mean_a - mean_b) / torch.sqrt(se_a.square() + se_b.square() + 1e-30)


def test_the_reference_estimator_drops_the_pre_update_sampling_term(gradients):
    assert _z(gradients, "reference", "truth_ref").abs().max() < 5
    assert _z(gradients, "reference", "truth_full").abs().max() > 8


def test_dice_estimates_the_full_meta_gradient(gradients):
    assert _z(gradients, "dice", "truth_full").abs().max() < 5
    assert _z(gradients, "dice", "truth_ref").abs().max() > 8
