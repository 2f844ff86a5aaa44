"""The 2D navigation domain's registry entry: its defaults (the paper's), what its checkpoints hold, and what
`mamlviz train` and `mamlviz eval` report for it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from mamlviz.core.checkpoint import Initialization, check_expected
from mamlviz.core.config import ModelConfig, RLConfig, TrainConfig
from mamlviz.core.evaluate import file_column_width
from mamlviz.core.model import Params
from mamlviz.core.nav2d.evaluation import EVAL_LRS, EVAL_STEPS, EVAL_TASKS, EVAL_TRAJECTORIES, PAPER, evaluate_policy
from mamlviz.core.nav2d.policy import LOG_STD, init_policy, policy_shapes
from mamlviz.core.nav2d.training import Nav2dDomain, TRPOLearner
from mamlviz.core.registry import DomainSpec, EvalOptions, EvalReport, SelectionMetric

ORACLE_INPUTS = 4
"""The oracle's policy sees (x, y, goal x, goal y)."""
RANDOM_SEED = 0
"""Seed of the randomly initialised policy `mamlviz eval` adds as the random-initialization row."""
DEFAULTS = {
    "iterations": 500,
    "inner_lr": 0.1,
    "meta_batch": 20,
    "model": ModelConfig(hidden=(100, 100), in_features=2, out_features=2),
    "rl": RLConfig(),
}


def config_architecture(cfg: TrainConfig, params: Params) -> dict[str, Any]:
    return {
        "type": "gaussian_mlp",
        "activation": "relu",
        "sizes": list(cfg.model.sizes),
        "mean": "nn.Sequential state_dict (0.weight ... )",
        "log_std": [cfg.model.out_features],
    }


def check_config_params(params: Params, cfg: TrainConfig, source: str) -> None:
    shapes = policy_shapes(cfg.model)
    check_expected(params, shapes, f"Gaussian MLP {list(cfg.model.sizes)} + {LOG_STD}", source)


def _lrs(inner_lr: float | None) -> tuple[float, ...]:
    return EVAL_LRS if inner_lr is None else (inner_lr, inner_lr / 2)


def _evaluate_files(options: EvalOptions, files: Sequence[tuple[Path, Initialization]]) -> EvalReport:
    """Return after 0..steps adaptation steps of each file, plus a random initialization, beside the paper's."""
    steps = options.steps or EVAL_STEPS
    n_traj = (options.shots or [EVAL_TRAJECTORIES])[0]
    lrs = _lrs(options.inner_lr)
    rows = []
    for path, init in files:
        oracle = init.algorithm == "oracle"  # not adapted (it is given the goal): one return, the same at every step
        curve = evaluate_policy(
            init.params, 0 if oracle else steps, options.tasks, n_traj, options.seed, lrs, init.config.rl, oracle
        )
        row = curve.to_dict()
        if oracle:
            row.update(mean=curve.mean * (steps + 1), ci95=curve.ci95 * (steps + 1))
        rows.append({"file": str(path), "algorithm": init.algorithm, **row})
    model = files[0][1].config.model if files else DEFAULTS["model"]
    random_model = dataclasses.replace(model, in_features=2)
    random_params = init_policy(random_model, torch.Generator().manual_seed(RANDOM_SEED))
    curve = evaluate_policy(random_params, steps, options.tasks, n_traj, options.seed, lrs)
    rows.append({"file": "(random init)", "algorithm": "random", **curve.to_dict()})
    width = file_column_width(row["file"] for row in rows)
    columns = range(steps + 1)
    lines = [
        f"return (sum of −L2 distance over ≤ 100 steps) on {options.tasks} goals, {n_traj} trajectories a step, "
        f"α = {lrs[0]} then {lrs[1]}; mean ± 95% interval [paper's Table 4 / Fig. 4 in brackets]",
        f"{'file':<{width}} {'algo':<10} " + " ".join(f"{f'step {s}':>24}" for s in columns),
    ]
    for row in rows:
        paper = PAPER.get(row["algorithm"], ())
        cells = []
        for s in columns:
            beside = f"[{paper[min(s, len(paper) - 1)]:.2f}]" if paper and (s < len(paper) or len(paper) == 1) else ""
            cells.append(f"{row['mean'][s]:>7.2f} ± {row['ci95'][s]:<5.2f} {beside:>8}")
        lines.append(f"{Path(row['file']).name:<{width}} {row['algorithm']:<10} " + " ".join(cells))
    document = {"steps": steps, "trajectories": n_traj, "inner_lrs": list(lrs), "paper": PAPER, "results": rows}
    return EvalReport(document, lines)


def _final_metrics(cfg: TrainConfig, learner: TRPOLearner) -> dict[str, object]:
    curve = evaluate_policy(learner.snapshot(), rl=cfg.rl, oracle=learner.algo == "oracle")
    return {"eval_returns": curve.to_dict()}


def _trained_summary(metrics: Mapping[str, object], out: Path) -> str:
    curve = metrics.get("eval_returns")
    if not isinstance(curve, dict):
        return ""
    returns = " / ".join(f"{v:.2f}" for v in curve["mean"])
    return f"; return after 0..{len(curve['mean']) - 1} steps on {EVAL_TASKS} goals: {returns}"


def _describe_model(cfg: TrainConfig) -> str:
    return f"Gaussian MLP {'-'.join(map(str, cfg.model.sizes))}, ReLU, learned state-independent log σ"


def _selection(cfg: TrainConfig, algo: str) -> SelectionMetric:
    """`--keep-best` selects by the mean validation return after the inner step (the oracle's: without one)."""
    step = 0 if algo == "oracle" else 1
    return SelectionMetric(f"{algo}/return/step{step}", higher_is_better=True, label="val return")


SPEC = DomainSpec(
    name="nav2d",
    label="2D navigation (RL)",
    defaults=DEFAULTS,
    trainer_domain=Nav2dDomain,
    architecture=config_architecture,
    check_params=check_config_params,
    evaluate=_evaluate_files,
    describe_model=_describe_model,
    eval_steps=EVAL_STEPS,
    shots=lambda cfg: cfg.rl.trajectories,
    with_shots=lambda cfg, n: dataclasses.replace(cfg, rl=dataclasses.replace(cfg.rl, trajectories=n)),
    final_metrics=_final_metrics,
    trained_summary=_trained_summary,
    oracle_inputs=(ORACLE_INPUTS, "(x, y, goal x, goal y)"),
    learner=TRPOLearner,
    eval_tasks=EVAL_TASKS,
    selection=_selection,
)
