"""The command line as a user runs it: exit codes, files written, one-sentence errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mamlviz.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "mamlviz", *args], capture_output=True, text=True, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "x.safetensors"
    assert main(["train", "--iters", "30", "--meta-batch", "5", "--hidden", "16,16", "--out", str(out)]) == 0
    return out


def test_training_can_start_from_an_exported_initialization(trained, tmp_path, capsys):
    from mamlviz.core.checkpoint import load_initialization

    out = tmp_path / "more.safetensors"
    args = ["train", "--iters", "4", "--meta-batch", "5", "--hidden", "16,16", "--out", str(out)]
    assert main([*args, "--init", str(trained), "--seed", "3"]) == 0
    before, after = load_initialization(trained), load_initialization(out)
    assert after.iterations == before.iterations + 4
    assert after.metrics["started_from"] == {"file": trained.name, "algorithm": "maml", "iterations": 30}
    for name, value in before.params.items():  # a few small Adam steps from the given θ, not from a fresh one
        assert 0 < float((after.params[name] - value).abs().max()) <= 4 * 1e-3 * 1.01
    capsys.readouterr()
    assert main([*args[:5], "--hidden", "8,8", "--out", str(out), "--init", str(trained)]) == 2
    assert "holds another network" in capsys.readouterr().err


def test_train_eval_info(trained, capsys):
    assert main(["eval", str(trained), "--shots", "5", "--steps", "3", "--tasks", "20", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (row,) = report["results"]
    assert row["shots"] == 5 and len(row["mean"]) == 4 and row["n_tasks"] == 20
    assert main(["eval", str(trained), str(trained), "--tasks", "20", "--steps", "2"]) == 0
    table = capsys.readouterr().out
    assert table.count("x.safetensors") == 4 and "step 2" in table
    assert main(["info", str(trained)]) == 0
    assert "MLP 1-16-16-1" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--inner-lr", "-1", "--out", "x.safetensors"],
        ["train", "--iters", "0", "--out", "x.safetensors"],
        ["train", "--shots", "0", "--out", "x.safetensors"],
        ["train", "--hidden", "40,abc", "--out", "x.safetensors"],
        ["train", "--algo", "magic", "--out", "x.safetensors"],
        ["train", "--device", "cuda", "--iters", "2", "--out", "x.safetensors"],
        ["train", "--iters", "2", "--out", "missing/dir/x.safetensors"],
        ["eval", "missing.safetensors"],
        ["info", "README.md"],
    ],
)
def test_user_mistakes_exit_nonzero_with_one_clear_line(args, tmp_path):
    result = run_cli(*args, cwd=tmp_path)
    if "cuda" in args and "--device" in args:
        import torch

        if torch.cuda.is_available():
            pytest.skip("CUDA is available here")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "error:" in result.stderr.strip().splitlines()[-1]


def test_diverging_training_reports_the_iteration_and_writes_nothing_unfinished(tmp_path, capsys):
    out = tmp_path / "d.safetensors"
    args = ["train", "--iters", "50", "--inner-lr", "50", "--meta-lr", "10", "--inner-steps", "5", "--out", str(out)]
    assert main(args) == 1
    assert "non-finite at iteration 1" in capsys.readouterr().err
    assert not out.exists()
