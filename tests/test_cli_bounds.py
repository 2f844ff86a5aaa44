"""Settings that cannot fit are refused in one sentence before anything is allocated (issue 12, "CLI bounds").

Every case runs through `mamlviz.cli.main` in one subprocess whose address space is limited (RLIMIT_AS), so a
regression that starts allocating fails with a MemoryError instead of swapping the machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from mamlviz.core.checkpoint import Initialization, save_initialization
from mamlviz.core.config import SETTING_LIMITS, ModelConfig, TrainConfig, check_task_memory
from mamlviz.core.errors import ConfigError
from mamlviz.core.model import init_params

ADDRESS_SPACE = 3 * 2**30
"""torch and mamlviz import in ~0.65 GB of address space (VmPeak); every refused case allocates nothing."""
REPO = Path(__file__).resolve().parents[1]

TRAIN_CASES = {
    "--hidden 50000,50000": "hidden sizes must be at most 9999",
    "--hidden 2000,2000": "validation would keep 100 tasks × 11 copies of 4,008,001 parameters",
    "--hidden 9999,9999": "parameters, more than the 20,000,000 allowed",
    "--meta-batch 1e6": "argument --meta-batch: expected a positive integer",
    "--meta-batch 1000000": "meta batch must be a whole number from 1 to 1,000",
    "--val-tasks 1e8": "argument --val-tasks: expected a positive integer",
    "--val-tasks 100000000": "val tasks must be a whole number from 1 to 10,000",
    "--shots 100000000": "task shots must be a whole number from 1 to 100",
    "--inner-steps 10000000": "inner steps must be a whole number from 1 to 20",
    "--iters 100000000": "iterations must be a whole number from 1 to 1,000,000",
    "--seed 1e23": "argument --seed: expected a whole number from 0 to",
    f"--seed {10**23}": "argument --seed: expected a whole number from 0 to",
}
EVAL_CASES = {
    "--tasks 1e8": "argument --tasks: expected a positive integer",
    "--tasks 100000000": "the number of test tasks must be a whole number from 1 to 10,000",
    "--steps 1e7": "argument --steps: expected a positive integer",
    "--steps 10000000": "the number of adaptation steps must be a whole number from 0 to 1,000",
    "--shots 1e8": "argument --shots: expected a positive integer",
    "--shots 100000000": "shots must be a whole number from 1 to 100",
}

RUNNER = """
import contextlib, io, json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from mamlviz.cli import main
report = {{}}
for name, argv in json.loads(sys.argv[1]).items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
        except BaseException as exc:  # a regression: report it instead of dying
            code, err = repr(exc), io.StringIO(repr(exc))
    report[name] = [code, err.getvalue()]
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict[str, list]:
    folder = tmp_path_factory.mktemp("bounds")
    config = TrainConfig(iterations=1)
    init = Initialization(init_params(config.model, torch.Generator().manual_seed(0)), config, "maml", 1)
    saved = folder / "init.safetensors"
    save_initialization(saved, init)
    out = str(folder / "out.safetensors")
    cases = {f"train {a}": ["train", *a.split(), "--iters", "1", "--out", out] for a in TRAIN_CASES}
    cases["train --iters 100000000"] = ["train", "--iters", "100000000", "--out", out]
    cases |= {f"eval {a}": ["eval", str(saved), *a.split()] for a in EVAL_CASES}
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    code = textwrap.dedent(RUNNER.format(limit=ADDRESS_SPACE))
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(cases)], capture_output=True, text=True, timeout=300, env=env, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert not Path(out).exists(), "a refused run wrote its output"
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("case", "expected"),
    [(f"train {a}", e) for a, e in TRAIN_CASES.items()] + [(f"eval {a}", e) for a, e in EVAL_CASES.items()],
)
def test_refused_in_one_sentence_before_allocating(report, case, expected):
    code, err = report[case]
    assert code == 2, (case, code, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    if lines[-1].startswith("error: "):  # a MamlvizError: exactly one line
        assert len(lines) == 1, err
    else:  # argparse: its usage line, then one error line
        assert lines[-1].startswith("mamlviz "), err
    assert expected in lines[-1], err
    assert lines[-1].endswith((".", "'")) or lines[-1][-1].isdigit(), err


def test_the_limits_are_one_table_read_by_config_and_evaluation():
    assert {"meta_batch", "val_tasks", "eval_tasks", "eval_steps", "shots", "hidden", "layers", "parameters"} <= set(
        SETTING_LIMITS
    )
    defaults = TrainConfig()
    defaults.validate()  # the paper's settings fit
    assert ModelConfig(hidden=(4000, 4000)).parameter_count < SETTING_LIMITS["parameters"][1]
    with pytest.raises(ConfigError, match=r"evaluation would keep 600 tasks × 11 copies"):
        check_task_memory(600, 10, 4_008_001, "evaluation")
    check_task_memory(600, 50, defaults.model.parameter_count, "evaluation")  # the app's compare at 50 steps fits


def test_a_large_network_is_evaluated_in_chunks_with_the_same_numbers():
    from mamlviz.core.sinusoid import evaluation

    config = TrainConfig()
    theta = init_params(config.model, torch.Generator().manual_seed(1))
    whole = evaluation.evaluate(theta, config.task, 5, steps=3, n_tasks=12, seed=3)
    limit = SETTING_LIMITS["task_parameters"]
    try:  # a limit that forces chunks of 5 tasks
        SETTING_LIMITS["task_parameters"] = (1, 5 * 4 * config.model.parameter_count)
        chunked = evaluation.evaluate(theta, config.task, 5, steps=3, n_tasks=12, seed=3)
    finally:
        SETTING_LIMITS["task_parameters"] = limit
    assert chunked.n_tasks == 12
    torch.testing.assert_close(torch.tensor(chunked.mean), torch.tensor(whole.mean))
