"""`mamlviz train --domain nav2d` and `mamlviz eval` of its files, as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mamlviz.cli import main

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--domain", "nav2d", "--iters", "2", "--meta-batch", "2", "--shots", "2", "--hidden", "8,8"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nav2d")
    files = {}
    for algo in ("maml", "oracle"):
        files[algo] = folder / f"{algo}.safetensors"
        assert main(["train", *TINY, "--algo", algo, "--out", str(files[algo])]) == 0
    return files


def test_train_saves_a_policy_with_its_config(trained, capsys):
    from mamlviz.core.checkpoint import load_initialization

    init = load_initialization(trained["maml"])
    assert init.config.domain == "nav2d" and init.iterations == 2
    assert init.config.model.sizes == (2, 8, 8, 2) and init.config.rl.trajectories == 2
    assert set(init.params) == {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias", "log_std"}
    assert len(init.metrics["eval_returns"]["mean"]) == 4
    assert load_initialization(trained["oracle"]).params["0.weight"].shape == (8, 4)
    assert main(["info", str(trained["maml"])]) == 0
    assert init.config.rl.fisher == "adapted" and init.config.rl.action_scale == 0.1
    assert "Gaussian MLP 2-8-8-2" in capsys.readouterr().out


def test_fisher_exact_is_recorded_in_the_file(tmp_path):
    from mamlviz.core.checkpoint import load_initialization

    out = tmp_path / "exact.safetensors"
    assert main(["train", *TINY, "--iters", "1", "--fisher", "exact", "--out", str(out)]) == 0
    assert load_initialization(out).config.rl.fisher == "exact"


def test_eval_reads_the_domain_from_the_file_and_prints_the_papers_values(trained, capsys):
    assert main(["eval", str(trained["maml"]), str(trained["oracle"]), "--tasks", "4", "--shots", "3"]) == 0
    out = capsys.readouterr().out
    assert "[-40.41]" in out and "[-11.68]" in out and "[-57.96]" in out and "[-2.29]" in out
    assert "random" in out and "step 3" in out
    assert main(["eval", str(trained["maml"]), "--tasks", "3", "--steps", "1", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    rows = {row["algorithm"]: row for row in document["results"]}
    assert set(rows) == {"maml", "random"} and len(rows["maml"]["mean"]) == 2
    assert rows["maml"]["tasks"] == 3 and document["inner_lrs"] == [0.1, 0.05]


def test_help_lists_the_domain():
    result = subprocess.run(
        [sys.executable, "-m", "mamlviz", "train", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.returncode == 0 and "nav2d" in result.stdout


def test_unsupported_algorithm_is_a_one_line_error(tmp_path, capsys):
    assert main(["train", *TINY, "--algo", "reptile", "--out", str(tmp_path / "x.safetensors")]) == 2
    assert "2D navigation trains" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_stop_signal_saves_what_was_trained(tmp_path):
    out = tmp_path / "stopped.safetensors"
    args = ["train", "--domain", "nav2d", "--iters", "10000", "--meta-batch", "2", "--shots", "2", "--hidden", "8"]
    process = subprocess.Popen(
        [sys.executable, "-m", "mamlviz", *args, "--out", str(out)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 120
    for line in process.stderr:
        if "1/10000" in line or "/10000" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert out.is_file()
