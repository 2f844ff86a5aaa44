"""2D navigation in the `Trainer`: its task stream (goals), validation, and the TRPO learner.

Learners by algorithm (all trained with TRPO, max KL 0.01, CG 10, damping 1e-5, backtracking line search):
- `maml`: TRPO on the post-update trajectories through the REINFORCE inner step (second order), with the
  estimator of `cfg.rl.estimator` ('reference': the surrogate of cbfinn/maml_rl, pytorch-maml-rl and learn2learn,
  which treats the pre-update trajectories as constants; 'dice': adds DiCE's pre-update sampling term);
- `fomaml`: the same with the inner gradient held constant (first order);
- `pretrained`: plain TRPO on the goal distribution (no inner step), fine-tuned the same way at test time;
- `oracle`: plain TRPO with the goal as two more inputs (a 4-input network).

TRPO's metric is `cfg.rl.fisher` ('adapted': the post-update Fisher, inner-step Jacobian taken as I; 'exact').
Metrics per iteration (`Progress.losses`): '{algo}/return_pre', '{algo}/return_post' (MAML, FOMAML; '{algo}/return'
otherwise), their negations '{algo}/pre', '{algo}/post' (or '{algo}') as the loss, '{algo}/kl' (the accepted
step's mean KL) and '{algo}/line_search' (backtracking steps; -1: no step taken). Validation:
'{algo}/return/step0' and '/step1' on `cfg.val_tasks` fixed goals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from mamlviz.core.config import TrainConfig
from mamlviz.core.errors import ConfigError, TrainingDiverged
from mamlviz.core.model import Params
from mamlviz.core.nav2d.env import rollout, sample_goals
from mamlviz.core.nav2d.policy import expand_to_tasks, init_policy
from mamlviz.core.nav2d.rl import (
    PostBatch,
    TRPOStats,
    adapt,
    advantages,
    mean_kl,
    post_batch,
    score_term,
    surrogate,
    trpo_update,
)

ALGORITHMS = ("maml", "fomaml", "pretrained", "oracle")
ADAPTING = ("maml", "fomaml")
VALIDATION_TRAJECTORIES = 20
VALIDATION_SEED_OFFSET = 1


@dataclass(frozen=True)
class GoalBatch:
    """One meta-batch: the goals, and the seed of the trajectories' noise (every learner samples with it)."""

    goals: Tensor
    seed: int

    def to(self, device: torch.device | str) -> GoalBatch:
        return GoalBatch(self.goals.to(device), self.seed)


def check_algo(algo: str) -> None:
    if algo not in ALGORITHMS:
        raise ConfigError(f"2D navigation trains {', '.join(ALGORITHMS)}, not {algo}.")


class Nav2dDomain:
    """The `Trainer`'s 2D navigation domain."""

    def __init__(self, cfg: TrainConfig, device: torch.device, compile: bool = False) -> None:
        check_algo(cfg.algo)
        if cfg.inner_steps != 1:
            raise ConfigError(f"2D navigation meta-trains with 1 inner step, got {cfg.inner_steps}.")
        self.cfg = cfg
        self.device = device
        generator = torch.Generator().manual_seed(cfg.seed + VALIDATION_SEED_OFFSET)
        self.validation_goals = sample_goals(cfg.val_tasks, generator).to(device)

    def initial_params(self, names: Sequence[str], generator: torch.Generator) -> dict[str, Params]:
        start = init_policy(self.cfg.model, generator)
        result = {}
        for name in names:
            check_algo(name)
            result[name] = start if name == self.cfg.algo else init_policy(self.cfg.model, generator)
        return result

    def gradient(self, algo: str) -> None:
        check_algo(algo)  # the TRPO learner computes its own update

    def sample(self, n_tasks: int, generator: torch.Generator) -> GoalBatch:
        goals = sample_goals(n_tasks, generator)
        return GoalBatch(goals, int(torch.randint(0, 2**62, (1,), generator=generator)))

    def validate(self, learners: Sequence[TRPOLearner]) -> dict[str, float]:
        """Mean return on fixed validation goals before and after one inner step (α of the config)."""
        from mamlviz.core.nav2d.evaluation import returns_after_steps

        result = {}
        for learner in learners:
            steps = 1 if learner.algo != "oracle" else 0
            returns = returns_after_steps(
                learner.theta,
                self.validation_goals,
                steps,
                VALIDATION_TRAJECTORIES,
                seed=self.cfg.seed + VALIDATION_SEED_OFFSET,
                lrs=(self.cfg.inner_lr,),
                rl=self.cfg.rl,
                oracle=learner.algo == "oracle",
            )
            for step in range(steps + 1):
                result[f"{learner.algo}/return/step{step}"] = float(returns[step].mean())
        return result


class TRPOLearner:
    """A 2D navigation policy θ meta-trained (or trained) by TRPO; the interface of `train.Learner`."""

    def __init__(self, algo: str, cfg: TrainConfig, theta: Params, device: torch.device, gradient: object = None):
        check_algo(algo)
        self.algo, self.cfg, self.device = algo, cfg, torch.device(device)
        self.theta = {k: v.detach().to(self.device).clone().requires_grad_(True) for k, v in theta.items()}
        self.inner_lrs: Params = {}
        self.variables = self.theta
        self.last_stats: TRPOStats | None = None

    def snapshot(self) -> Params:
        return {k: v.detach().cpu().clone() for k, v in self.theta.items()}

    def learned_lrs(self) -> None:
        return None

    def step(self, batch: GoalBatch, iteration: int) -> dict[str, Tensor]:
        """Sample, adapt (MAML), take one TRPO step; metrics are negated returns ('loss') and TRPO's figures."""
        rl, algo = self.cfg.rl, self.algo
        generator = torch.Generator(device=self.device).manual_seed(batch.seed)
        goals = batch.goals.to(self.device)
        oracle = algo == "oracle"
        pre = rollout(self.theta, goals, rl.trajectories, generator, rl.horizon, oracle, rl.action_scale)
        metrics: dict[str, Tensor] = {}
        if algo in ADAPTING:
            pre_adv = advantages(pre, rl.gamma, rl.gae_lambda)
            second_order = algo == "maml"

            def adapted(differentiable: bool) -> Params:
                return adapt(self.theta, pre, pre_adv, self.cfg.inner_lr, create_graph=second_order and differentiable)

            with torch.no_grad():
                start = adapted(False)
            post_traj = rollout(start, goals, rl.trajectories, generator, rl.horizon, action_scale=rl.action_scale)
            post = post_batch(start, post_traj, advantages(post_traj, rl.gamma, rl.gae_lambda))
            metrics[f"{algo}/return_pre"] = pre.returns.mean()
            metrics[f"{algo}/return_post"] = post_traj.returns.mean()
            metrics[f"{algo}/pre"] = -pre.returns.mean()
            metrics[f"{algo}/post"] = -post_traj.returns.mean()
        else:
            post = post_batch(expand_to_tasks(self.theta, pre.n_tasks), pre, advantages(pre, rl.gamma, rl.gae_lambda))

            def adapted(differentiable: bool) -> Params:
                return expand_to_tasks(self.theta, pre.n_tasks)

            metrics[f"{algo}/return"] = pre.returns.mean()
            metrics[algo] = -pre.returns.mean()
        extra = None
        if algo == "maml" and rl.estimator == "dice":

            def extra() -> Tensor:
                return score_term(self.theta, pre, post, rl.gamma)

        stats = self._trpo(adapted, post, extra)
        if not all(bool(torch.isfinite(v).all()) for v in self.theta.values()):
            raise TrainingDiverged(iteration, f"{algo} policy became non-finite at iteration {iteration}.")
        self.last_stats = stats
        metrics[f"{algo}/kl"] = torch.tensor(stats.kl)
        metrics[f"{algo}/line_search"] = torch.tensor(float(stats.line_search_steps))
        return metrics

    def _trpo(self, adapted, post: PostBatch, extra) -> TRPOStats:
        rl = self.cfg.rl

        def loss_and_kl(differentiable: bool) -> tuple[Tensor, Tensor]:
            params = adapted(differentiable)
            if differentiable:
                metric = params
                if rl.fisher == "adapted" and self.algo == "maml":  # θ'(θ) with the Jacobian I, for the Fisher only
                    base = expand_to_tasks(self.theta, post.traj.n_tasks)
                    metric = {k: base[k] + (v - base[k]).detach() for k, v in params.items()}
                return surrogate(params, post), mean_kl(metric, post)
            with torch.no_grad():
                params = {k: v.detach() for k, v in params.items()}
                return surrogate(params, post), mean_kl(params, post)

        return trpo_update(
            self.theta, loss_and_kl, rl.max_kl, rl.cg_iters, rl.cg_damping, rl.ls_backtrack, rl.ls_steps, extra
        )
