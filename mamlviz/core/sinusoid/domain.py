"""The sinusoid regression domain: the trainer's task stream and validation, what its checkpoints hold,
and what `mamlviz train` and `mamlviz eval` report for it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from mamlviz.core.algorithms import inner_loop_for
from mamlviz.core.checkpoint import Initialization, architecture, check_params
from mamlviz.core.config import EVAL_SEED, TrainConfig
from mamlviz.core.data import TaskBatch
from mamlviz.core.evaluate import file_column_width, mse_after_steps, summarize
from mamlviz.core.fused import compile_by_default
from mamlviz.core.model import Params, init_params
from mamlviz.core.registry import DomainSpec, EvalOptions, EvalReport, SelectionMetric
from mamlviz.core.sinusoid.evaluation import eval_tasks, evaluate, evaluate_initialization
from mamlviz.core.sinusoid.playground import Probe, make_probe
from mamlviz.core.sinusoid.tasks import sample_task_batches
from mamlviz.core.train import Gradient, Learner, gradient_for

VALIDATION_SHOTS = (5, 10)
VALIDATION_STEPS = (1, 10)
EVAL_STEPS = 10
"""Adaptation steps of `mamlviz eval` and of the metrics stored after training."""
EVAL_LR = 0.01
"""`mamlviz eval`'s step size α where an initialization learned none (the paper's)."""
TABLE_STEPS = (0, 1, 2, 5, 10, 20, 50)
"""Columns of the `mamlviz eval` table (those below its step count, and the last)."""
FINAL_SHOTS = (5, 10)
FINAL_TASKS = 600
PROBE_SHOTS = 5
SAMPLE_AHEAD = 64
"""Meta-batches the trainer's task stream draws at a time."""


class SinusoidDomain:
    """Sinusoid regression (the paper's section 5.1): MSE after 1 and 10 steps on fixed K = 5, 10 tasks."""

    def __init__(self, cfg: TrainConfig, device: torch.device, compile: bool | None = False) -> None:
        self.cfg = cfg
        self.compile = compile_by_default(cfg) if compile is None else compile
        self.ahead: list[TaskBatch] = []
        self.validation_sets = {
            k: eval_tasks(cfg.task, k, cfg.val_tasks, cfg.seed + 1).to(device) for k in VALIDATION_SHOTS
        }

    def initial_params(self, names: Sequence[str], generator: torch.Generator) -> dict[str, Params]:
        start = init_params(self.cfg.model, generator)
        return dict.fromkeys(names, start)

    def gradient(self, algo: str) -> Gradient:
        return gradient_for(algo, self.cfg, self.compile)

    def sample(self, n_tasks: int, generator: torch.Generator) -> TaskBatch:
        """The next meta-batch of the stream, drawn SAMPLE_AHEAD at a time (the same stream, fewer operations)."""
        if not self.ahead:
            self.ahead = sample_task_batches(self.cfg.task, n_tasks, SAMPLE_AHEAD, generator)[::-1]
        return self.ahead.pop()

    def validate(self, learners: Sequence[Learner]) -> dict[str, float]:
        return validate(learners, self.validation_sets)


def validate(learners: Sequence[Learner], tasks: dict[int, TaskBatch]) -> dict[str, float]:
    """MSE on fixed validation tasks after each of VALIDATION_STEPS updates (each learner's own inner loop)."""
    result = {}
    for learner in learners:
        for shots, batch in tasks.items():
            mse = mse_after_steps(learner.theta, batch, learner.inner_loop(), max(VALIDATION_STEPS), VALIDATION_STEPS)
            for step, mean in zip(VALIDATION_STEPS, summarize(shots, mse).mean, strict=True):
                result[f"{learner.algo}/K{shots}/step{step}"] = mean
    return result


def _final_metrics(cfg: TrainConfig, learner: Learner) -> dict[str, object]:
    """MSE after 0..10 steps on 600 test tasks for K = 5 and 10, as stored in the file's metrics."""
    params, loop = learner.snapshot(), inner_loop_for(cfg, learner.learned_lrs())
    metrics: dict[str, object] = {}
    for shots in FINAL_SHOTS:
        curve = evaluate(params, cfg.task, shots, steps=EVAL_STEPS, n_tasks=FINAL_TASKS, lr=loop, seed=EVAL_SEED)
        metrics[f"eval_K{shots}"] = {"mse": [round(v, 4) for v in curve.mean], "diverged": curve.diverged}
    return metrics


def _trained_summary(metrics: Mapping[str, object], out: Path) -> str:
    k5 = metrics.get("eval_K5")
    if not isinstance(k5, dict):
        return ""
    summary = "; K=5 MSE after 0/1/10 steps: " + " / ".join(f"{k5['mse'][s]:.3f}" for s in (0, 1, 10))
    return summary + (f" ({k5['diverged']} of {FINAL_TASKS} test tasks diverged)" if k5["diverged"] else "")


def _evaluate_files(options: EvalOptions, files: Sequence[tuple[Path, Initialization]]) -> EvalReport:
    """MSE vs adaptation steps of each file, for each K, with the mean ± 95% interval table."""
    steps = options.steps or EVAL_STEPS
    lr = options.inner_lr or EVAL_LR
    results = []
    for path, init in files:
        for curve in evaluate_initialization(init, options.shots or [5, 10], steps, options.tasks, lr, options.seed):
            results.append({"file": str(path), "algorithm": init.algorithm, **curve.to_dict()})
    columns = [s for s in TABLE_STEPS if s < steps] + [steps]
    width = file_column_width(row["file"] for row in results)
    header = (
        f"{'file':<{width}} {'algo':<10} {'K':>3} " + " ".join(f"{f'step {s}':>14}" for s in columns) + "  diverged"
    )
    lines = [
        f"MSE on {options.tasks} tasks (100-point grid), α = {lr} (or the init's learned step sizes), mean ± 95% CI",
        header,
    ]
    for row in results:
        cells = " ".join(f"{row['mean'][s]:>7.3f} ± {row['ci95'][s]:<5.3f}" for s in columns)
        lines.append(
            f"{Path(row['file']).name:<{width}} {row['algorithm']:<10} {row['shots']:>3} {cells}  {row['diverged']}"
        )
    return EvalReport({"inner_lr": lr, "steps": steps, "results": results}, lines)


def _selection(cfg: TrainConfig, algo: str) -> SelectionMetric:
    """`--keep-best` selects by the validation MSE after the last validation step, at the validated K nearest the
    trained one (lower is better)."""
    shots = min(VALIDATION_SHOTS, key=lambda k: (abs(k - cfg.task.shots), -k))
    return SelectionMetric(f"{algo}/K{shots}/step{max(VALIDATION_STEPS)}", higher_is_better=False, label="val MSE")


def _with_shots(cfg: TrainConfig, shots: int) -> TrainConfig:
    return dataclasses.replace(cfg, task=dataclasses.replace(cfg.task, shots=shots, queries=shots))


def _probe(cfg: TrainConfig) -> Probe:
    return make_probe(cfg.task, PROBE_SHOTS)


SPEC = DomainSpec(
    name="sinusoid",
    label="Sinusoid regression",
    defaults={"iterations": 70_000, "inner_lr": 0.01, "meta_batch": 25},
    trainer_domain=SinusoidDomain,
    architecture=lambda cfg, params: architecture(cfg.model),
    check_params=lambda params, cfg, source: check_params(params, cfg.model, source),
    evaluate=_evaluate_files,
    describe_model=lambda cfg: f"MLP {'-'.join(map(str, cfg.model.sizes))}, ReLU",
    eval_steps=EVAL_STEPS,
    make_probe=_probe,
    final_metrics=_final_metrics,
    trained_summary=_trained_summary,
    shots=lambda cfg: cfg.task.shots,
    with_shots=_with_shots,
    selection=_selection,
)
