"""The point environment against hand-computed cases, and the policy's tensors against plain PyTorch."""

from __future__ import annotations

import math

import torch
from torch import nn

from mamlviz.core.config import ModelConfig
from mamlviz.core.nav2d.env import ACTION_LIMIT, rollout, sample_goals, step
from mamlviz.core.nav2d.policy import LOG_STD, gaussian_kl, init_policy, log_prob, policy_mean, policy_shapes

MODEL = ModelConfig(hidden=(100, 100), in_features=2, out_features=2)


def _constant_policy(velocity: tuple[float, float], log_std: float = -30.0) -> dict[str, torch.Tensor]:
    """A policy whose mean is `velocity` everywhere (zero weights), nearly deterministic."""
    params = {k: torch.zeros(shape) for k, shape in policy_shapes(MODEL).items()}
    params["4.bias"] = torch.tensor(velocity)
    params[LOG_STD] = torch.full((2,), log_std)
    return params


def test_a_step_clips_the_velocity_and_rewards_minus_the_l2_distance():
    position, goal = torch.tensor([0.0, 0.0]), torch.tensor([0.3, -0.4])
    moved, reward, done = step(position, torch.tensor([0.5, -0.05]), goal, action_scale=1.0)
    assert torch.allclose(moved, torch.tensor([ACTION_LIMIT, -0.05]))
    assert math.isclose(float(reward), -math.hypot(0.2, 0.35), rel_tol=1e-6)
    assert not bool(done)


def test_by_default_actions_are_scaled_into_the_box_as_rllab_normalize_does():
    moved, _, _ = step(torch.tensor([0.0, 0.0]), torch.tensor([0.5, -3.0]), torch.tensor([0.3, -0.4]))
    assert torch.allclose(moved, torch.tensor([0.05, -ACTION_LIMIT]))


def test_done_within_0_01_on_both_axes():
    goal = torch.tensor([0.1, 0.1])
    assert bool(step(torch.tensor([0.0, 0.0]), torch.tensor([0.95, 1.05]), goal)[2])
    assert not bool(step(torch.tensor([0.0, 0.0]), torch.tensor([0.95, 0.85]), goal)[2])


def test_a_rollout_reaches_the_goal_and_masks_the_later_steps():
    goals = torch.tensor([[0.3, 0.3], [-0.5, 0.5]])
    traj = rollout(_constant_policy((1.0, 1.0)), goals, 3, torch.Generator().manual_seed(0), horizon=10)
    assert traj.mask[0, 0].tolist() == [1, 1, 1] + [0] * 7
    expected = [-math.hypot(0.2, 0.2), -math.hypot(0.1, 0.1), 0.0] + [0.0] * 7
    assert torch.allclose(traj.rewards[0, 0], torch.tensor(expected), atol=1e-6)
    assert torch.allclose(traj.positions[0, 0, -1], torch.tensor([0.3, 0.3]), atol=1e-6)
    # the second goal is never reached moving up-right: x drifts away, every step counts
    assert traj.mask[1].sum() == 3 * 10
    assert torch.allclose(traj.returns[0], torch.tensor(sum(expected)).expand(3), atol=1e-5)
    assert traj.positions.shape == (2, 3, 11, 2) and traj.observations.shape == (2, 3, 10, 2)


def test_rollouts_are_vectorized_and_reproducible():
    params = init_policy(MODEL, torch.Generator().manual_seed(0))
    goals = sample_goals(5, torch.Generator().manual_seed(1))
    assert goals.abs().max() <= 0.5
    a = rollout(params, goals, 4, torch.Generator().manual_seed(2))
    b = rollout(params, goals, 4, torch.Generator().manual_seed(2))
    assert torch.equal(a.actions, b.actions) and a.actions.shape == (5, 4, 100, 2)
    oracle = init_policy(ModelConfig(hidden=(8,), in_features=4, out_features=2), torch.Generator().manual_seed(0))
    traj = rollout(oracle, goals, 2, torch.Generator().manual_seed(2), horizon=5, oracle=True)
    assert torch.equal(traj.observations[:, :, :, 2:], goals.reshape(5, 1, 1, 2).expand(5, 2, 5, 2))


def test_the_policy_is_the_plain_sequential_plus_log_std():
    params = init_policy(MODEL, torch.Generator().manual_seed(0))
    net = nn.Sequential(nn.Linear(2, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 2))
    assert set(params) == {*net.state_dict(), LOG_STD}
    net.load_state_dict({k: v for k, v in params.items() if k != LOG_STD})
    obs = torch.randn(7, 3, 2)
    assert torch.allclose(policy_mean(params, obs), net(obs), atol=1e-6)
    actions = torch.randn(7, 3, 2)
    params[LOG_STD] = torch.tensor([-0.5, 0.3])
    reference = torch.distributions.Normal(net(obs), torch.exp(params[LOG_STD])).log_prob(actions).sum(-1)
    assert torch.allclose(log_prob(params, obs, actions), reference, atol=1e-5)
    p = torch.distributions.Normal(torch.tensor([0.1, 0.2]), torch.tensor([0.5, 1.5]))
    q = torch.distributions.Normal(torch.tensor([-0.1, 0.4]), torch.tensor([1.0, 0.7]))
    kl = gaussian_kl(p.loc, p.scale.log(), q.loc, q.scale.log())
    assert torch.allclose(kl, torch.distributions.kl_divergence(p, q).sum())


def test_batched_parameters_give_each_task_its_own_policy():
    params = [init_policy(MODEL, torch.Generator().manual_seed(s)) for s in range(3)]
    batched = {k: torch.stack([p[k] for p in params]) for k in params[0]}
    obs = torch.randn(3, 4, 5, 2)
    out = policy_mean(batched, obs)
    for i, p in enumerate(params):
        assert torch.allclose(out[i], policy_mean(p, obs[i]), atol=1e-6)
