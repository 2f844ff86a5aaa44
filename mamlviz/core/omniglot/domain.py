"""The Omniglot classification domain: what its checkpoints hold, and what `mamlviz train` and
`mamlviz eval` report for it (the trainer's domain is `training.ClassificationDomain`;
for ProtoNet and Matching Net `metric.MetricDomain`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mamlviz.core.checkpoint import Initialization, check_expected
from mamlviz.core.config import ClassificationConfig, TrainConfig
from mamlviz.core.evaluate import file_column_width
from mamlviz.core.model import Params
from mamlviz.core.omniglot import metric
from mamlviz.core.omniglot.classification import ImagePool, check_head, evaluate_classification, for_ways
from mamlviz.core.omniglot.convnet import BLOCKS, HEAD, IMAGE_SIZE, param_shapes
from mamlviz.core.omniglot.data import load_meta_test
from mamlviz.core.omniglot.training import validation_steps
from mamlviz.core.registry import DomainSpec, EvalOptions, EvalReport, SelectionMetric

EVAL_STEPS = 5
"""Adaptation steps `mamlviz eval` reports by default."""
TWENTY_WAY = 20
TWENTY_WAY_DEFAULTS = {"inner_lr": 0.1, "meta_batch": 16, "inner_steps": 5}
"""The paper's 20-way Omniglot settings, used from TWENTY_WAY ways up where not given."""
TEST_SETS = {"alphabets": "evaluation alphabets", "paper": "paper split's test characters"}
"""The meta-test characters of each `ClassificationConfig.split`, as the eval table names them."""


def config_architecture(config: TrainConfig, params: Params) -> dict[str, Any]:
    """The 4-block conv net of a config (the head's size read from θ); a metric learner's embedding and rule."""
    if metric.is_metric(config.algo):
        return metric.architecture(config)
    head = params.get(f"{HEAD}.weight")
    return {
        "type": "conv",
        "blocks": BLOCKS,
        "filters": config.classification.filters,
        "kernel": 3,
        "stride": 2,
        "norm": "batchnorm (batch statistics, transductive)",
        "activation": "relu",
        "input": [1, IMAGE_SIZE, IMAGE_SIZE],
        "classes": int(head.shape[0]) if head is not None and head.dim() == 2 else config.classification.ways,
    }


def check_config_params(params: Params, config: TrainConfig, source: str) -> None:
    if metric.is_metric(config.algo):
        filters = config.classification.filters
        check_expected(params, metric.embedding_shapes(filters), f"embedding 4×{filters} (max-pool)", source)
        return
    arch = config_architecture(config, params)
    check_expected(params, param_shapes(arch["filters"], arch["classes"]), f"conv net {arch['filters']}×4", source)


def _evaluate_files(options: EvalOptions, files: Sequence[tuple[Path, Initialization]]) -> EvalReport:
    """N-way K-shot accuracy on meta-test tasks of each file's split (`data.load_meta_test`), after 0..steps
    updates."""
    steps = options.steps or EVAL_STEPS
    results, pools = [], {}
    for path, init in files:
        c = init.config.classification
        data = str(options.data) if options.data else (c.data if c.data and Path(c.data).is_dir() else "")
        key = (data, c.rotations, c.split)
        if key not in pools:
            pools[key] = ImagePool.from_split(load_meta_test(c.split, data or None), c.rotations)
        ways, lr = options.ways or c.ways, options.inner_lr or init.config.inner_lr
        rule = metric.is_metric(init.config.algo)
        for shots in options.shots or [c.shots]:
            if rule:  # no inner steps: one accuracy, on the same seeded tasks as MAML's rows
                curve = metric.evaluate_metric(
                    init.params, init.config.algo, pools[key], ways, shots, n_tasks=options.tasks, seed=options.seed
                )
                row = {"file": str(path), "algorithm": init.algorithm, "ways": ways, "inner_lr": None}
                row["rule"] = metric.RULES[init.config.algo]
            else:
                check_head(init.params, ways, init.algorithm, str(path))
                curve = evaluate_classification(
                    init.params, pools[key], ways, shots, steps, lr=lr, n_tasks=options.tasks, seed=options.seed
                )
                row = {"file": str(path), "algorithm": init.algorithm, "ways": ways, "inner_lr": lr}
            row.update(curve.to_dict())
            row["paper"] = metric.paper_figure(init.algorithm, ways, shots)
            results.append(row)
    columns = range(steps + 1)
    width = file_column_width(row["file"] for row in results)
    test_sets = ", ".join(TEST_SETS[split] for split in sorted({split for *_, split in pools}))
    lines = [
        f"query accuracy (%) on {options.tasks} meta-test tasks (Omniglot {test_sets}), mean ± 95% interval",
        f"{'file':<{width}} {'algo':<11} {'task':>6} {'α':>5} "
        + " ".join(f"{f'step {s}':>13}" for s in columns)
        + f" {'paper':>6}",
    ]
    for row in results:
        n = len(row["mean"])  # a metric learner's one column: no inner steps, the same after any number
        cells = " ".join(
            f"{100 * row['mean'][s]:>6.2f} ± {100 * row['ci95'][s]:<4.2f}" if s < n else f"{'–':>13}" for s in columns
        )
        task = f"{row['ways']}w{row['shots']}s"
        lr = f"{row['inner_lr']:>5.3g}" if row["inner_lr"] is not None else f"{'–':>5}"
        paper = f"{row['paper']:>6.1f}" if row["paper"] is not None else f"{'–':>6}"
        lines.append(f"{Path(row['file']).name:<{width}} {row['algorithm']:<11} {task:>6} {lr} {cells} {paper}")
    lines += metric.paper_lines(sorted({row["algorithm"] for row in results}))
    return EvalReport({"steps": steps, "metric": "accuracy", "results": results}, lines)


def _describe_model(cfg: TrainConfig) -> str:
    c = cfg.classification
    if metric.is_metric(cfg.algo):
        trained = f"{metric.train_ways(c)}-way {c.shots}-shot episodes"
        return f"conv embedding 4×{c.filters} (3×3, batch norm, ReLU, 2×2 max-pool) + {cfg.algo} rule; {trained}"
    return f"conv 4×{c.filters} (3×3/2, batch norm, ReLU) + linear; {c.ways}-way {c.shots}-shot"


def _trained_summary(metrics: Mapping[str, object], out: Path) -> str:
    return f"; run `mamlviz eval {out}` for the accuracy on 600 meta-test tasks"


def _start_params(params: Params, cfg: TrainConfig) -> tuple[Params, str]:
    """`--init` from a file with a head for another number of ways: its body, and a zero head for this run's
    (e.g. a 20-way run warm-started from a 5-way init); a metric learner's embedding has no head."""
    head = params.get(f"{HEAD}.weight")
    ways = cfg.classification.ways
    if metric.is_metric(cfg.algo) or head is None or head.shape[-2] == ways:
        return params, ""
    return for_ways(params, ways), f"its {head.shape[-2]}-way head is replaced by a zero {ways}-way one"


def _selection(cfg: TrainConfig, algo: str) -> SelectionMetric:
    """`--keep-best` selects by the validation query accuracy (after the last validation step where the learner
    adapts; higher is better)."""
    c = cfg.classification
    key = f"{algo}/{c.ways}w{c.shots}s" + ("" if metric.is_metric(algo) else f"/step{max(validation_steps(cfg))}")
    return SelectionMetric(key, higher_is_better=True, label="val accuracy", percent=True)


SPEC = DomainSpec(
    name="omniglot",
    label="Omniglot classification",
    defaults={
        "iterations": 60_000,
        "inner_lr": 0.4,
        "meta_batch": 32,
        "classification": ClassificationConfig(ways=5, shots=1),
    },
    trainer_domain=lambda cfg, device, compile=False: metric.trainer_domain(cfg, device),
    architecture=config_architecture,
    check_params=check_config_params,
    evaluate=_evaluate_files,
    describe_model=_describe_model,
    eval_steps=EVAL_STEPS,
    shots=lambda cfg: cfg.classification.shots,
    with_shots=lambda cfg, shots: dataclasses.replace(
        cfg, classification=dataclasses.replace(cfg.classification, shots=shots)
    ),
    trained_summary=_trained_summary,
    loading_note="loading Omniglot (decoded once, then cached)",
    large_task_defaults=lambda ways: TWENTY_WAY_DEFAULTS if ways >= TWENTY_WAY else {},
    metric_learners=True,
    algo_defaults=metric.algo_defaults,
    learner=metric.make_learner,
    start_params=_start_params,
    selection=_selection,
)
