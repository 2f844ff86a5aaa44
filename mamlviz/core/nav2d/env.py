"""The paper's point robot, vectorized in torch (no gym): every task and trajectory of a batch at once.

A point starts at (0, 0); its goal is drawn from U[−0.5, 0.5]². The policy's action a moves the point by the
velocity clip(s·a, −0.1, 0.1) per axis, with s = `RLConfig.action_scale` = 0.1 by default: the reference code wraps
the environment in rllab's `normalize()`, which maps actions in [−1, 1] onto the ±0.1 box, so the policy's noise
is a tenth of what it would be on the raw velocity. The reward is minus the **L2 distance** (not
squared) from the new position to the goal, as in the reference code (cbfinn/maml_rl
`point_env_randgoal.py`; the paper's text says "squared"). The episode is done once the new position is within
0.01 of the goal on both axes (that step's reward counts; later steps are masked out) or after the horizon of 100
steps. The only Python loop is the one over the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from mamlviz.core.config import RLConfig
from mamlviz.core.model import Params
from mamlviz.core.nav2d.policy import policy_mean

GOAL_RANGE = 0.5
"""Goals are drawn from U[−GOAL_RANGE, GOAL_RANGE]²."""
ACTION_LIMIT = 0.1
HORIZON = 100
GOAL_TOLERANCE = 0.01
START = (0.0, 0.0)


def sample_goals(n_tasks: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> Tensor:
    """(n_tasks, 2) goals from U[−0.5, 0.5]²."""
    return (torch.rand(n_tasks, 2, generator=generator, dtype=dtype) * 2 - 1) * GOAL_RANGE


def step(
    position: Tensor, action: Tensor, goal: Tensor, action_scale: float = RLConfig.action_scale
) -> tuple[Tensor, Tensor, Tensor]:
    """One transition: (next position, reward −‖next − goal‖₂, done) for broadcastable tensors (..., 2)."""
    moved = position + (action_scale * action).clamp(-ACTION_LIMIT, ACTION_LIMIT)
    offset = moved - goal
    return moved, -torch.linalg.vector_norm(offset, dim=-1), (offset.abs() < GOAL_TOLERANCE).all(-1)


def policy_input(positions: Tensor, goals: Tensor, oracle: bool) -> Tensor:
    """What the policy sees: the position (..., 2), or for the oracle the position and the goal (..., 4)."""
    if not oracle:
        return positions
    goal = goals.reshape(goals.shape[0], *([1] * (positions.dim() - 2)), 2).expand_as(positions)
    return torch.cat([positions, goal], -1)


@dataclass(frozen=True)
class Trajectories:
    """N tasks × B trajectories × T steps."""

    observations: Tensor
    """(N, B, T, in): the policy's input at each step (position, plus the goal for the oracle)."""
    actions: Tensor
    """(N, B, T, 2): the sampled (unclipped) actions, whose log-probabilities the policy gradient uses."""
    rewards: Tensor
    """(N, B, T), zero after the episode is done."""
    mask: Tensor
    """(N, B, T): 1 for the steps taken (up to and including the one reaching the goal), else 0."""
    positions: Tensor
    """(N, B, T + 1, 2): the path, starting at (0, 0); it stays put once done."""
    goals: Tensor
    """(N, 2)."""

    @property
    def returns(self) -> Tensor:
        """(N, B) undiscounted returns (sum of rewards over the steps taken)."""
        return self.rewards.sum(-1)

    @property
    def n_tasks(self) -> int:
        return self.actions.shape[0]


@torch.no_grad()
def rollout(
    params: Params,
    goals: Tensor,
    n_traj: int,
    generator: torch.Generator,
    horizon: int = HORIZON,
    oracle: bool = False,
    action_scale: float = RLConfig.action_scale,
) -> Trajectories:
    """Sample `n_traj` trajectories per goal with the Gaussian policy (shared or per-task parameters)."""
    n_tasks = goals.shape[0]
    dtype, device = goals.dtype, goals.device
    noise = torch.randn(horizon, n_tasks, n_traj, 2, generator=generator, dtype=dtype, device=device)
    log_std = params["log_std"].detach()
    std = torch.exp(log_std).reshape(n_tasks, 1, 2) if log_std.dim() == 2 else torch.exp(log_std)
    detached = {k: v.detach() for k, v in params.items()}
    position = torch.tensor(START, dtype=dtype, device=device).expand(n_tasks, n_traj, 2)
    goal = goals.unsqueeze(1)
    alive = torch.ones(n_tasks, n_traj, dtype=torch.bool, device=device)
    observations, actions, rewards, masks, positions = [], [], [], [], [position]
    for t in range(horizon):
        obs = policy_input(position, goals, oracle)
        action = policy_mean(detached, obs) + std * noise[t]
        moved, reward, done = step(position, action, goal, action_scale)
        observations.append(obs)
        actions.append(action)
        rewards.append(torch.where(alive, reward, 0.0))
        masks.append(alive)
        position = torch.where(alive.unsqueeze(-1), moved, position)
        positions.append(position)
        alive = alive & ~done
    return Trajectories(
        torch.stack(observations, 2),
        torch.stack(actions, 2),
        torch.stack(rewards, 2),
        torch.stack(masks, 2).to(dtype),
        torch.stack(positions, 2),
        goals,
    )
