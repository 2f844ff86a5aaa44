"""How much of a 2D-navigation policy's return after adaptation its own noise costs.

    python benchmarks/nav2d_noise.py [FILE]

Adapts FILE (default: the shipped MAML policy) with the paper's protocol (40 goals, seed 1234, 3 steps, α 0.1 then
0.05), then rolls the same adapted means out again with smaller, fixed σ.
"""

from __future__ import annotations

import sys

import torch

from mamlviz.core.checkpoint import load_initialization
from mamlviz.core.nav2d.env import rollout, sample_goals
from mamlviz.core.nav2d.evaluation import EVAL_TASKS, EVAL_TRAJECTORIES, adapt_and_rollout_tasks
from mamlviz.resources import SHIPPED_NAV2D, resource_path


def main() -> None:
    torch.set_num_threads(1)
    path = sys.argv[1] if len(sys.argv) > 1 else resource_path(SHIPPED_NAV2D["maml"])
    init = load_initialization(path)
    params = {k: v.float() for k, v in init.params.items()}
    goals = sample_goals(EVAL_TASKS, torch.Generator().manual_seed(1234))
    result = adapt_and_rollout_tasks(params, goals, 3, EVAL_TRAJECTORIES, 1235, rl=init.config.rl)
    adapted = result.params[-1]
    sigma = adapted["log_std"].exp().mean(0).tolist() if adapted["log_std"].dim() == 2 else adapted["log_std"].exp()
    print(f"{path}: return after 3 steps {float(result.returns[-1].mean()):.2f} with its own σ {sigma}")
    for log_std in (-1.0, -2.0, -3.5):
        quiet = {**adapted, "log_std": torch.full_like(adapted["log_std"], log_std)}
        generator = torch.Generator().manual_seed(7)
        traj = rollout(quiet, goals, EVAL_TRAJECTORIES, generator, action_scale=init.config.rl.action_scale)
        print(f"  the same adapted means with σ = e^{log_std}: {float(traj.returns.mean()):.2f}")


if __name__ == "__main__":
    main()
