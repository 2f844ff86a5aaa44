"""The optional Gymnasium wrapper: gymnasium's checker, hand-computed steps, and agreement with the core env."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

gymnasium = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from mamlviz.core.config import ModelConfig  # noqa: E402
from mamlviz.core.nav2d.env import rollout, step  # noqa: E402
from mamlviz.core.nav2d.gym_env import ENV_ID, PointNavigationEnv  # noqa: E402
from mamlviz.core.nav2d.policy import LOG_STD, policy_shapes  # noqa: E402


@pytest.mark.filterwarnings("ignore:.*infinity:UserWarning")  # the position is unbounded by design
def test_gymnasiums_checker_passes_on_the_registered_env():
    env = gymnasium.make(ENV_ID)
    check_env(env.unwrapped)
    assert isinstance(env.unwrapped, PointNavigationEnv)


def test_a_step_scales_clips_and_rewards_minus_the_l2_distance():
    env = PointNavigationEnv()
    obs, info = env.reset(options={"goal": (0.3, -0.4)})
    assert obs.dtype == np.float32
    assert np.array_equal(obs, [0.0, 0.0])
    assert np.allclose(info["goal"], [0.3, -0.4])
    obs, reward, terminated, truncated, info = env.step(np.array([0.5, -3.0]))
    assert np.allclose(obs, [0.05, -0.1])
    assert math.isclose(reward, -math.hypot(0.25, 0.3), rel_tol=1e-12)
    assert (terminated, truncated) == (False, False)
    assert np.allclose(info["goal"], [0.3, -0.4])


def test_action_scale_one_makes_the_action_the_velocity():
    env = PointNavigationEnv(goal=(0.3, -0.4), action_scale=1.0)
    env.reset()
    obs, *_ = env.step(np.array([0.5, -0.05]))
    assert np.allclose(obs, [0.1, -0.05])


def test_terminated_within_0_01_of_the_goal_on_both_axes():
    env = PointNavigationEnv(goal=(0.1, 0.1))
    env.reset()
    _, reward, terminated, truncated, _ = env.step(np.array([0.95, 1.05]))
    assert terminated
    assert not truncated
    assert math.isclose(reward, -0.005, rel_tol=1e-9)


def test_truncated_after_the_horizon():
    env = PointNavigationEnv(goal=(0.4, 0.4), horizon=5)
    env.reset()
    flags = [env.step(np.zeros(2))[2:4] for _ in range(5)]
    assert flags == [(False, False)] * 4 + [(False, True)]


def _episode(seed: int) -> tuple[np.ndarray, list[np.ndarray], list[float]]:
    env = PointNavigationEnv(horizon=30)
    obs, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    observations, rewards = [obs], []
    for _ in range(30):
        obs, reward, *_ = env.step(env.action_space.sample())
        observations.append(obs)
        rewards.append(reward)
    return info["goal"], observations, rewards


def test_the_same_seed_gives_the_same_goal_and_rollout():
    goal, observations, rewards = _episode(7)
    again = _episode(7)
    assert np.array_equal(goal, again[0])
    assert np.array_equal(np.stack(observations), np.stack(again[1]))
    assert rewards == again[2]
    assert not np.array_equal(goal, _episode(8)[0])
    assert np.all(np.abs(goal) <= 0.5)


def test_a_fixed_action_sequence_follows_the_core_step():
    actions = torch.rand(40, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    goal = torch.tensor([0.45, -0.2], dtype=torch.float64)
    env = PointNavigationEnv(goal=(0.45, -0.2), horizon=40)
    env.reset()
    position = torch.zeros(2, dtype=torch.float64)
    for action in actions:
        obs, reward, terminated, _, _ = env.step(action.numpy())
        position, expected_reward, done = step(position, action, goal)
        assert np.allclose(obs, position.numpy(), atol=1e-7)
        assert reward == float(expected_reward)
        assert terminated == bool(done)


def _constant_policy(action: tuple[float, float]) -> dict[str, torch.Tensor]:
    """Zero weights, mean `action` everywhere, negligible noise (std e⁻³⁰)."""
    model = ModelConfig(hidden=(100, 100), in_features=2, out_features=2)
    params = {k: torch.zeros(shape, dtype=torch.float64) for k, shape in policy_shapes(model).items()}
    params["4.bias"] = torch.tensor(action, dtype=torch.float64)
    params[LOG_STD] = torch.full((2,), -30.0, dtype=torch.float64)
    return params


@pytest.mark.parametrize(
    ("goal", "action"),
    [((0.3, -0.2), (1.0, -2 / 3)), ((0.45, 0.2), (0.2, -0.1))],
    ids=["reaches-the-goal", "runs-to-the-horizon"],
)
def test_the_return_of_a_constant_action_equals_the_core_rollout(goal, action):
    env = PointNavigationEnv(goal=goal, horizon=20)
    env.reset()
    total, steps, terminated, truncated = 0.0, 0, False, False
    while not (terminated or truncated):
        _, reward, terminated, truncated, _ = env.step(np.array(action))
        total += reward
        steps += 1
    goals = torch.tensor([goal], dtype=torch.float64)
    core = rollout(_constant_policy(action), goals, 1, torch.Generator().manual_seed(0), horizon=20)
    assert math.isclose(total, float(core.returns[0, 0]), rel_tol=1e-9)
    assert steps == int(core.mask.sum())


def test_the_core_does_not_import_gymnasium():
    code = "import sys, mamlviz, mamlviz.core, mamlviz.core.nav2d, mamlviz.cli\nsys.exit('gymnasium' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
