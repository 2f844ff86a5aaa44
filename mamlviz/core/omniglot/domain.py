"""The Omniglot classification domain: what its checkpoints hold, and what `mamlviz train` and
`mamlviz eval` report for it (the trainer's domain is `training.ClassificationDomain`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mamlviz.core.checkpoint import Initialization, check_expected
from mamlviz.core.config import ClassificationConfig, TrainConfig
from mamlviz.core.evaluate import file_column_width
from mamlviz.core.model import Params
from mamlviz.core.omniglot.classification import ImagePool, evaluate_classification
from mamlviz.core.omniglot.convnet import BLOCKS, HEAD, IMAGE_SIZE, param_shapes
from mamlviz.core.omniglot.data import load_split
from mamlviz.core.omniglot.training import ClassificationDomain
from mamlviz.core.registry import DomainSpec, EvalOptions, EvalReport

EVAL_STEPS = 5
"""Adaptation steps `mamlviz eval` reports by default."""
TWENTY_WAY = 20
TWENTY_WAY_DEFAULTS = {"inner_lr": 0.1, "meta_batch": 16, "inner_steps": 5}
"""The paper's 20-way Omniglot settings, used from TWENTY_WAY ways up where not given."""


def config_architecture(config: TrainConfig, params: Params) -> dict[str, Any]:
    """The 4-block conv net of a config (the head's size read from θ)."""
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
    arch = config_architecture(config, params)
    check_expected(params, param_shapes(arch["filters"], arch["classes"]), f"conv net {arch['filters']}×4", source)


def _evaluate_files(options: EvalOptions, files: Sequence[tuple[Path, Initialization]]) -> EvalReport:
    """N-way K-shot accuracy on meta-test tasks from the evaluation alphabets, after 0..steps updates."""
    steps = options.steps or EVAL_STEPS
    results, pools = [], {}
    for path, init in files:
        c = init.config.classification
        data = str(options.data) if options.data else (c.data if c.data and Path(c.data).is_dir() else "")
        key = (data, c.rotations)
        if key not in pools:
            pools[key] = ImagePool.from_split(load_split("evaluation", data or None), c.rotations)
        ways, lr = options.ways or c.ways, options.inner_lr or init.config.inner_lr
        for shots in options.shots or [c.shots]:
            curve = evaluate_classification(
                init.params, pools[key], ways, shots, steps, lr=lr, n_tasks=options.tasks, seed=options.seed
            )
            row = {"file": str(path), "algorithm": init.algorithm, "ways": ways, "inner_lr": lr, **curve.to_dict()}
            results.append(row)
    columns = range(steps + 1)
    width = file_column_width(row["file"] for row in results)
    lines = [
        f"query accuracy (%) on {options.tasks} meta-test tasks (Omniglot evaluation alphabets), mean ± 95% interval",
        f"{'file':<{width}} {'algo':<10} {'task':>6} {'α':>5} " + " ".join(f"{f'step {s}':>13}" for s in columns),
    ]
    for row in results:
        cells = " ".join(f"{100 * row['mean'][s]:>6.2f} ± {100 * row['ci95'][s]:<4.2f}" for s in columns)
        task = f"{row['ways']}w{row['shots']}s"
        lines.append(
            f"{Path(row['file']).name:<{width}} {row['algorithm']:<10} {task:>6} {row['inner_lr']:>5.3g} {cells}"
        )
    return EvalReport({"steps": steps, "metric": "accuracy", "results": results}, lines)


def _describe_model(cfg: TrainConfig) -> str:
    c = cfg.classification
    return f"conv 4×{c.filters} (3×3/2, batch norm, ReLU) + linear; {c.ways}-way {c.shots}-shot"


def _trained_summary(metrics: Mapping[str, object], out: Path) -> str:
    return f"; run `mamlviz eval {out}` for the accuracy on 600 meta-test tasks"


SPEC = DomainSpec(
    name="omniglot",
    label="Omniglot classification",
    defaults={
        "iterations": 60_000,
        "inner_lr": 0.4,
        "meta_batch": 32,
        "classification": ClassificationConfig(ways=5, shots=1),
    },
    trainer_domain=lambda cfg, device, compile=False: ClassificationDomain(cfg, device),
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
)
