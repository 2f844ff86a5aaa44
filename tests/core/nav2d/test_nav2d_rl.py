"""Baseline, advantages, the batched inner step against a per-task autograd loop (float64), CG and TRPO."""

from __future__ import annotations

import numpy as np
import torch

from mamlviz.core.config import ModelConfig
from mamlviz.core.nav2d.env import Trajectories, rollout, sample_goals
from mamlviz.core.nav2d.policy import init_policy, log_prob
from mamlviz.core.nav2d.rl import (
    BASELINE_RIDGE,
    adapt,
    advantages,
    conjugate_gradient,
    discounted_returns,
    fit_baseline,
    mean_kl,
    post_batch,
    surrogate,
    trpo_update,
)

DT = torch.float64
MODEL = ModelConfig(hidden=(16, 16), in_features=2, out_features=2)


def _batch(n_tasks=3, n_traj=5, horizon=30, seed=0):
    params = init_policy(MODEL, torch.Generator().manual_seed(seed), DT)
    goals = sample_goals(n_tasks, torch.Generator().manual_seed(seed + 1), DT)
    return params, rollout(params, goals, n_traj, torch.Generator().manual_seed(seed + 2), horizon)


def _task(traj: Trajectories, i: int) -> Trajectories:
    return Trajectories(*(getattr(traj, name)[i : i + 1] for name in traj.__dataclass_fields__))


def test_the_baseline_is_rllabs_linear_feature_baseline_per_task():
    _, traj = _batch()
    values = fit_baseline(traj, 0.99)
    returns = discounted_returns(traj.rewards, 0.99)
    for i in range(traj.n_tasks):
        feats, targets = [], []
        for b in range(traj.actions.shape[1]):
            length = int(traj.mask[i, b].sum())
            o = np.clip(traj.observations[i, b, :length].numpy(), -10, 10)
            al = np.arange(length).reshape(-1, 1) / 100.0
            feats.append(np.concatenate([o, o**2, al, al**2, al**3, np.ones((length, 1))], axis=1))
            targets.append(returns[i, b, :length].numpy())
        f, y = np.concatenate(feats), np.concatenate(targets)
        coeffs = np.linalg.lstsq(f.T @ f + BASELINE_RIDGE * np.eye(f.shape[1]), f.T @ y, rcond=None)[0]
        expected = np.concatenate([fe @ coeffs for fe in feats])
        got = torch.cat([values[i, b, : int(traj.mask[i, b].sum())] for b in range(traj.actions.shape[1])])
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_gae_with_lambda_one_is_the_return_to_go_minus_the_baseline():
    _, traj = _batch()
    adv = advantages(traj, 0.9, 1.0, normalize=False)
    expected = (discounted_returns(traj.rewards, 0.9) - fit_baseline(traj, 0.9)) * traj.mask
    assert torch.allclose(adv, expected, atol=1e-9)
    rewards = traj.rewards[0, 0]
    by_hand = torch.zeros_like(rewards)
    running = 0.0
    for t in reversed(range(rewards.shape[0])):
        running = rewards[t] + 0.9 * running
        by_hand[t] = running
    assert torch.allclose(discounted_returns(rewards, 0.9), by_hand)
    normalized = advantages(traj, 0.9)
    for i in range(traj.n_tasks):
        valid = normalized[i][traj.mask[i] > 0]
        assert abs(float(valid.mean())) < 1e-9 and abs(float(valid.std(unbiased=False)) - 1) < 1e-6


def test_the_batched_inner_step_equals_a_per_task_autograd_loop():
    params, traj = _batch()
    theta = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    adv = advantages(traj, 0.99)
    batched = adapt(theta, traj, adv, 0.1, create_graph=True)
    weights = torch.randn(traj.n_tasks, dtype=DT)
    objective = sum(weights[i] * sum((v[i] ** 2).sum() for v in batched.values()) for i in range(traj.n_tasks))
    batched_grad = torch.autograd.grad(objective, list(theta.values()))
    loop_objective = 0.0
    for i in range(traj.n_tasks):
        task = _task(traj, i)
        mask = task.mask[0]
        loss = -(log_prob(theta, task.observations[0], task.actions[0]) * adv[i] * mask).sum() / mask.sum()
        grads = torch.autograd.grad(loss, list(theta.values()), create_graph=True)
        adapted = {k: v - 0.1 * g for (k, v), g in zip(theta.items(), grads, strict=True)}
        for k, v in adapted.items():
            assert torch.allclose(batched[k][i], v, atol=1e-12)
        loop_objective = loop_objective + weights[i] * sum((v**2).sum() for v in adapted.values())
    loop_grad = torch.autograd.grad(loop_objective, list(theta.values()))
    for a, b in zip(batched_grad, loop_grad, strict=True):
        assert torch.allclose(a, b, atol=1e-10)


def test_test_time_adaptation_needs_no_graph_and_matches_training_adaptation():
    params, traj = _batch()
    adv = advantages(traj, 0.99)
    with torch.no_grad():
        plain = adapt(params, traj, adv, 0.1)
    theta = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    tracked = adapt(theta, traj, adv, 0.1, create_graph=True)
    assert all(not v.requires_grad for v in plain.values())
    for k in plain:
        assert torch.allclose(plain[k], tracked[k].detach(), atol=1e-12)
    again = adapt(plain, traj, adv, 0.05)  # already per-task parameters (a second step)
    assert again["0.weight"].shape == (traj.n_tasks, 16, 2)


def test_conjugate_gradient_solves_a_symmetric_positive_system():
    a = torch.randn(6, 6, dtype=DT)
    matrix = a @ a.T + 6 * torch.eye(6, dtype=DT)
    b = torch.randn(6, dtype=DT)
    x = conjugate_gradient(lambda v: matrix @ v, b, 10)
    assert torch.allclose(matrix @ x, b, atol=1e-8)


def test_a_trpo_step_improves_the_surrogate_within_the_trust_region():
    params, traj = _batch(n_tasks=4, n_traj=10, horizon=40)
    theta = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    shared = {k: v.expand(4, *v.shape) for k, v in theta.items()}
    post = post_batch(shared, traj, advantages(traj, 0.99))

    def loss_and_kl(differentiable):
        batched = {k: v.expand(4, *v.shape) for k, v in theta.items()}
        if differentiable:
            return surrogate(batched, post), mean_kl(batched, post)
        with torch.no_grad():
            return surrogate(batched, post), mean_kl(batched, post)

    stats = trpo_update(theta, loss_and_kl, 0.01, 10, 1e-5, 0.5, 15)
    assert stats.line_search_steps >= 0
    assert stats.loss_after < stats.loss_before
    assert 0 < stats.kl <= 0.01
    assert float(loss_and_kl(False)[1]) == stats.kl
