"""The paper's evaluation protocol and the app's adaptation view.

Protocol (Finn et al. 2017, section 5.3 and appendix A.2): 40 goals drawn with a fixed seed; up to 3 adaptation
steps, each on 40 fresh trajectories of the current policy, α = 0.1 for the first step and 0.05 after; the return
of step k is the mean undiscounted return of 40 trajectories sampled after k steps, averaged over the tasks, with a
95% interval over the tasks (1.96·std/√tasks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from mamlviz.core.config import RLConfig
from mamlviz.core.model import Params
from mamlviz.core.nav2d.env import rollout, sample_goals
from mamlviz.core.nav2d.rl import adapt, advantages

EVAL_TASKS = 40
EVAL_TRAJECTORIES = 40
EVAL_STEPS = 3
EVAL_LRS = (0.1, 0.05)
"""α of the first adaptation step, then of every later one."""
PAPER = {
    "maml": (-40.41, -11.68, -3.33, -3.23),
    "pretrained": (-40.81, -19.73, -11.72, -8.47),
    "random": (-82.66, -57.96, -53.84, -46.81),
    "oracle": (-2.29,),
}
"""The paper's Table 4 (MAML) and Figure 4 data (cbfinn/maml_rl icml/*.pkl), returns after 0, 1, 2, 3 steps."""


def step_lr(lrs: Sequence[float], step: int) -> float:
    """α of adaptation step `step` (0-based): lrs[step], the last one repeated."""
    return lrs[min(step, len(lrs) - 1)]


@dataclass(frozen=True)
class Adaptation:
    """Trajectories of a policy before and after each adaptation step, for N goals."""

    positions: Tensor
    """(steps + 1, N, n_traj, T + 1, 2) paths, starting at (0, 0)."""
    mask: Tensor
    """(steps + 1, N, n_traj, T) 1 for the steps taken."""
    returns: Tensor
    """(steps + 1, N, n_traj) undiscounted returns."""
    params: list[Params]
    """The per-task parameters after 0..steps steps (batched: leading dimension N)."""


def adapt_and_rollout_tasks(
    params: Params,
    goals: Tensor,
    steps: int,
    n_traj: int,
    seed: int,
    lrs: Sequence[float] = EVAL_LRS,
    rl: RLConfig | None = None,
    oracle: bool = False,
) -> Adaptation:
    """Sample n_traj trajectories per goal, take a REINFORCE step on them, sample again, ... (`steps` times)."""
    rl = rl or RLConfig()
    dtype = params["log_std"].dtype
    goals = goals.to(dtype)
    generator = torch.Generator(device=goals.device).manual_seed(seed)
    current = {k: v.detach() for k, v in params.items()}
    positions, masks, returns, history = [], [], [], [current]
    for k in range(steps + 1):
        traj = rollout(current, goals, n_traj, generator, rl.horizon, oracle, rl.action_scale)
        positions.append(traj.positions)
        masks.append(traj.mask)
        returns.append(traj.returns)
        if k < steps:
            adv = advantages(traj, rl.gamma, rl.gae_lambda)
            current = adapt(current, traj, adv, step_lr(lrs, k))
            history.append(current)
    return Adaptation(torch.stack(positions), torch.stack(masks), torch.stack(returns), history)


def adapt_and_rollout(
    params: Params,
    goal: Sequence[float] | Tensor,
    steps: int = EVAL_STEPS,
    n_traj: int = EVAL_TRAJECTORIES,
    seed: int = 0,
    lrs: Sequence[float] = EVAL_LRS,
    oracle: bool = False,
    rl: RLConfig | None = None,
) -> tuple[Tensor, Tensor]:
    """For the app: one goal (x, y) in [−0.5, 0.5]². Returns (paths, returns):

    - paths (steps + 1, n_traj, T + 1, 2): the trajectories sampled before adaptation and after each of `steps`
      REINFORCE steps (α = lrs[0], then lrs[1], …; the paper's 0.1 then 0.05), each starting at (0, 0) and staying
      put once the goal is reached;
    - returns (steps + 1, n_traj): their undiscounted returns (sum of −L2 distance).

    Deterministic for a seed; about 0.1 s for 3 steps of 40 trajectories on one CPU thread.
    """
    goals = torch.as_tensor(goal, dtype=params["log_std"].dtype).reshape(1, 2)
    result = adapt_and_rollout_tasks(params, goals, steps, n_traj, seed, lrs, rl, oracle)
    return result.positions[:, 0], result.returns[:, 0]


def returns_after_steps(
    params: Params,
    goals: Tensor,
    steps: int,
    n_traj: int,
    seed: int,
    lrs: Sequence[float] = EVAL_LRS,
    rl: RLConfig | None = None,
    oracle: bool = False,
) -> Tensor:
    """(steps + 1, N) each task's mean return after 0..steps adaptation steps."""
    return adapt_and_rollout_tasks(params, goals, steps, n_traj, seed, lrs, rl, oracle).returns.mean(-1)


@dataclass(frozen=True)
class ReturnCurve:
    mean: list[float]
    ci95: list[float]
    tasks: int

    def to_dict(self) -> dict[str, object]:
        return {"mean": self.mean, "ci95": self.ci95, "tasks": self.tasks}


def evaluate_policy(
    params: Params,
    steps: int = EVAL_STEPS,
    n_tasks: int = EVAL_TASKS,
    n_traj: int = EVAL_TRAJECTORIES,
    seed: int = 1234,
    lrs: Sequence[float] = EVAL_LRS,
    rl: RLConfig | None = None,
    oracle: bool = False,
) -> ReturnCurve:
    """The paper's protocol: mean return ± 95% interval over `n_tasks` goals after 0..steps steps."""
    params = {k: v.detach().float() for k, v in params.items()}
    goals = sample_goals(n_tasks, torch.Generator().manual_seed(seed))
    per_task = returns_after_steps(params, goals, steps, n_traj, seed + 1, lrs, rl, oracle)
    mean = per_task.mean(1)
    ci = 1.96 * per_task.std(1) / math.sqrt(n_tasks) if n_tasks > 1 else torch.zeros_like(mean)
    return ReturnCurve([round(float(v), 3) for v in mean], [round(float(v), 3) for v in ci], n_tasks)
