"""`mamlviz train --keep-best`: the file holds the iterate of the best validation, and says so."""

from __future__ import annotations

import os
import signal
import sys

import pytest
import torch

from mamlviz.cli import main
from mamlviz.core import registry
from mamlviz.core.checkpoint import load_initialization
from mamlviz.core.config import TrainConfig
from mamlviz.core.sinusoid import domain as sinusoid

TINY = ["train", "--iters", "40", "--meta-batch", "5", "--hidden", "16,16", "--val-every", "5", "--val-tasks", "20"]
TINY += ["--meta-lr", "0.03", "--compile", "off"]
"""Validated 8 times; with this seed its validation MSE is best well before the end."""
KEY = "maml/K10/step10"


@pytest.fixture
def validations(monkeypatch):
    """Record each validation's figures and the trained learner's θ at it; `script` replaces MAML's figure."""
    records: list[dict] = []
    script: list[float] = []
    real = sinusoid.SinusoidDomain.validate

    def validate(self, learners):
        figures = real(self, learners)
        if script:
            figures[KEY] = script[len(records)]
        records.append({"figures": figures, "params": learners[0].snapshot(), "lrs": learners[0].learned_lrs()})
        return figures

    monkeypatch.setattr(sinusoid.SinusoidDomain, "validate", validate)
    return records, script


def _same(params, expected) -> bool:
    return set(params) == set(expected) and all(torch.equal(params[k], expected[k]) for k in expected)


def test_the_file_holds_the_iterate_of_the_best_real_validation(validations, tmp_path, capsys):
    records, _ = validations
    out = tmp_path / "best.safetensors"
    assert main([*TINY, "--keep-best", "--out", str(out)]) == 0
    metric = registry.get("sinusoid").selection(TrainConfig(), "maml")
    figures = [r["figures"][metric.key] for r in records]
    best = min(range(len(figures)), key=lambda i: (figures[i], i))
    assert len(records) == 8 and best < len(records) - 1  # the best is not the last: the choice shows
    saved = load_initialization(out)
    assert _same(saved.params, records[best]["params"]) and not _same(saved.params, records[-1]["params"])
    iteration = 5 * (best + 1)
    assert saved.iterations == iteration
    assert saved.metrics["keep_best"] == {
        "chosen": True,
        "metric": metric.key,
        "higher_is_better": False,
        "iteration": iteration,
        "value": figures[best],
        "last_iteration": 40,
        "last_value": figures[-1],
    }
    assert saved.metrics["validation"] == records[best]["figures"]
    assert saved.metrics["last_validation"] == records[-1]["figures"]
    err = capsys.readouterr().err
    assert f"kept iteration {iteration} (val MSE {figures[best]:.4g}) of 40" in err


def test_scripted_figures_rising_then_falling_choose_the_best_and_its_final_evaluation(validations, tmp_path):
    records, script = validations
    script += [3.0, 2.0, 0.5, 1.0, 4.0, 5.0, 6.0, 7.0]  # best at the 3rd validation, iteration 15
    out = tmp_path / "best.safetensors"
    assert main([*TINY, "--keep-best", "--out", str(out)]) == 0
    saved = load_initialization(out)
    assert _same(saved.params, records[2]["params"]) and saved.iterations == 15
    record = saved.metrics["keep_best"]
    assert (record["iteration"], record["value"], record["last_value"]) == (15, 0.5, 7.0)
    expected = sinusoid._final_metrics(saved.config, _as_learner(records[2]["params"]))
    assert saved.metrics["eval_K5"] == expected["eval_K5"]  # the stored evaluation is the kept iterate's


def test_each_validation_prints_its_figure_and_which_iterate_is_kept(validations, tmp_path, capsys):
    _, script = validations
    script += [3.0, 2.0, 0.5, 1.0, 4.0, 5.0, 6.0, 7.0]
    assert main([*TINY, "--keep-best", "--out", str(tmp_path / "best.safetensors")]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("iteration ")]
    assert lines[:4] == [
        "iteration 5: val MSE 3 (the best so far: kept)",
        "iteration 10: val MSE 2 (the best so far: kept)",
        "iteration 15: val MSE 0.5 (the best so far: kept)",
        "iteration 20: val MSE 1 (kept: 15)",
    ]
    assert len(lines) == 8


def _as_learner(params):
    class Kept:
        def snapshot(self):
            return params

        def learned_lrs(self):
            return None

    return Kept()


def test_without_the_flag_the_file_holds_the_last_iterate_as_before(validations, tmp_path, capsys):
    records, script = validations
    script += [3.0, 2.0, 0.5, 1.0, 4.0, 5.0, 6.0, 7.0]
    out = tmp_path / "last.safetensors"
    assert main([*TINY, "--out", str(out)]) == 0
    saved = load_initialization(out)
    assert _same(saved.params, records[-1]["params"]) and saved.iterations == 40
    assert "keep_best" not in saved.metrics and "last_validation" not in saved.metrics
    assert saved.metrics["validation"] == records[-1]["figures"]
    err = capsys.readouterr().err
    assert "kept iteration" not in err
    assert "iteration 15: val MSE 0.5\n" in err  # the figures, with nothing kept


def test_keep_best_with_init_counts_the_started_iterations(validations, tmp_path):
    records, script = validations
    first = tmp_path / "first.safetensors"
    assert main([*TINY, "--iters", "10", "--out", str(first)]) == 0
    records.clear()
    script += [3.0, 1.0, 2.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    out = tmp_path / "more.safetensors"
    assert main([*TINY, "--keep-best", "--init", str(first), "--out", str(out)]) == 0
    saved = load_initialization(out)
    assert _same(saved.params, records[1]["params"])
    assert saved.iterations == 10 + 10 and saved.metrics["keep_best"]["iteration"] == 10
    assert saved.metrics["started_from"]["iterations"] == 10


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_run_saves_the_best_so_far(validations, tmp_path, capsys, monkeypatch, signum):
    records, script = validations
    script += [3.0, 1.0, 2.0, 4.0]
    real = sinusoid.SinusoidDomain.validate

    def stop_at_the_fourth(self, learners):
        figures = real(self, learners)
        if len(records) == 4:
            os.kill(os.getpid(), signum)
        return figures

    monkeypatch.setattr(sinusoid.SinusoidDomain, "validate", stop_at_the_fourth)
    out = tmp_path / "stopped.safetensors"
    assert main([*TINY, "--iters", "1000", "--keep-best", "--out", str(out)]) == 128 + signum
    saved = load_initialization(out)
    assert _same(saved.params, records[1]["params"]) and saved.iterations == 10
    record = saved.metrics["keep_best"]
    assert record["chosen"] and record["last_iteration"] >= 20 and "eval_K5" not in saved.metrics
    assert "kept iteration 10 (val MSE 1) of" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_run_stopped_before_any_validation_saves_the_last_iterate_and_says_so(tmp_path, capsys, monkeypatch):
    from mamlviz.core import train

    real = train.Learner.step

    def step(self, batch, iteration):
        metrics = real(self, batch, iteration)
        if iteration == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return metrics

    monkeypatch.setattr(train.Learner, "step", step)
    out = tmp_path / "early.safetensors"
    assert main([*TINY, "--keep-best", "--out", str(out)]) == 128 + signal.SIGTERM
    saved = load_initialization(out)
    record = saved.metrics["keep_best"]
    assert not record["chosen"] and record["value"] is None and saved.iterations == record["last_iteration"]
    assert "no validation ran" in capsys.readouterr().err


def test_nav2d_keeps_the_policy_of_the_best_mean_return(tmp_path, capsys):
    out = tmp_path / "nav.safetensors"
    args = ["train", "--domain", "nav2d", "--iters", "3", "--meta-batch", "2", "--shots", "2", "--hidden", "8,8"]
    assert main([*args, "--val-every", "1", "--keep-best", "--out", str(out)]) == 0
    record = load_initialization(out).metrics["keep_best"]
    assert record["chosen"] and record["metric"] == "maml/return/step1" and record["higher_is_better"]
    assert record["last_iteration"] == 3 and 1 <= record["iteration"] <= 3
    assert "val return" in capsys.readouterr().err


def test_omniglot_keeps_the_conv_net_of_the_best_accuracy(tmp_path, capsys, monkeypatch):
    from tests.core.omniglot.fixtures import make_omniglot

    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))
    data = make_omniglot(tmp_path / "omniglot", characters=3)
    out = tmp_path / "o.safetensors"
    args = ["train", "--domain", "omniglot", "--ways", "3", "--shots", "1", "--iters", "2", "--meta-batch", "2"]
    assert (
        main([*args, "--val-tasks", "4", "--val-every", "1", "--keep-best", "--data", str(data), "--out", str(out)])
        == 0
    )
    record = load_initialization(out).metrics["keep_best"]
    assert record["chosen"] and record["metric"] == "maml/3w1s/step3" and record["higher_is_better"]
    err = capsys.readouterr().err
    assert "(val accuracy " in err and "%) of 2" in err
