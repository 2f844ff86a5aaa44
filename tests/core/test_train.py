import dataclasses
import math

import pytest
import torch

from mamlviz.core import aot
from mamlviz.core.config import ModelConfig, TrainConfig
from mamlviz.core.errors import ConfigError, TrainingDiverged
from mamlviz.core.train import Trainer

TINY = TrainConfig(iterations=60, meta_batch=5, val_every=30, val_tasks=10, model=ModelConfig(hidden=(20, 20)))


def test_training_reduces_meta_loss_and_reports_validation():
    cfg = dataclasses.replace(TINY, iterations=200, meta_batch=10, val_every=100)
    records = list(Trainer(cfg, with_baseline=True).iterate(snapshot_every=80))
    assert [r.iteration for r in records] == list(range(1, 201))
    assert set(records[0].losses) == {"maml/pre", "maml/post", "pretrained"}
    validations = [r for r in records if r.validation]
    assert [r.iteration for r in validations] == [100, 200]
    assert "pretrained/K5/step10" in validations[-1].validation
    assert [r.iteration for r in records if r.snapshot] == [80, 160]
    first = sum(r.losses["maml/post"] for r in records[:50])
    last = sum(r.losses["maml/post"] for r in records[-50:])
    assert last < first


def test_same_seed_is_deterministic_and_stoppable():
    a, b = Trainer(TINY), Trainer(TINY)
    gen_a = a.iterate()
    for _ in range(10):
        next(gen_a)
    gen_a.close()
    for _, _ in zip(range(10), b.iterate(), strict=False):
        pass
    assert a.iteration == 10
    for k, v in a.snapshot()["maml"].items():
        assert torch.equal(v, b.snapshot()["maml"][k])


def test_non_finite_loss_stops_with_iteration_and_keeps_finite_params():
    cfg = dataclasses.replace(TINY, inner_lr=50.0, meta_lr=10.0, inner_steps=5)
    trainer = Trainer(cfg)
    with pytest.raises(TrainingDiverged, match="iteration") as info:
        for _ in trainer.iterate():
            pass
    assert info.value.iteration >= 1
    assert all(torch.isfinite(v).all() for v in trainer.snapshot()["maml"].values())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"inner_lr": -1.0}, "inner lr"),
        ({"meta_lr": math.nan}, "meta lr"),
        ({"iterations": 0}, "iterations"),
        ({"algo": "nope"}, "unknown algorithm"),
        ({"model": ModelConfig(hidden=(0,))}, "hidden"),
    ],
)
def test_invalid_configs_are_refused(change, message):
    with pytest.raises(ConfigError, match=message):
        Trainer(dataclasses.replace(TINY, **change))


@pytest.mark.slow
def test_compiled_meta_iterations_match_eager_and_a_later_run_loads_what_was_compiled(tmp_path, monkeypatch):
    monkeypatch.setattr(aot, "cache_folder", lambda: tmp_path)
    cfg = dataclasses.replace(TINY, iterations=3)
    eager, compiled = Trainer(cfg, with_baseline=True), Trainer(cfg, with_baseline=True, compile=True)
    assert all(learner.fused is not None for learner in compiled.learners)
    for _ in zip(eager.iterate(), compiled.iterate(), strict=True):
        pass
    assert len(list(tmp_path.glob("*.pt2"))) == 2  # MAML's program and the baseline's
    monkeypatch.setattr(aot, "_compile", lambda *args: pytest.fail("compiled again"))
    loaded = Trainer(cfg, with_baseline=True, compile=True)
    for _ in loaded.iterate():
        pass
    for algo in ("maml", "pretrained"):
        for name, value in eager.snapshot()[algo].items():
            torch.testing.assert_close(compiled.snapshot()[algo][name], value, rtol=1e-4, atol=1e-6, msg=name)
            assert torch.equal(loaded.snapshot()[algo][name], compiled.snapshot()[algo][name]), name


def _scripted(trainer: Trainer, figures: dict[str, list[float]]) -> None:
    """Replace the trainer's validation by figures given in order, one list per key."""
    calls = iter(range(len(next(iter(figures.values())))))

    def validate(learners):
        i = next(calls)
        return {key: values[i] for key, values in figures.items()}

    trainer.domain.validate = validate


def test_keep_best_keeps_the_trained_learners_best_iterate_when_validation_rises_then_falls():
    cfg = dataclasses.replace(TINY, iterations=50, val_every=10)
    trainer = Trainer(cfg, with_baseline=True, keep_best=True)
    assert trainer.best is not None and trainer.best.metric.key == "maml/K10/step10"
    assert not trainer.best.metric.higher_is_better
    # MAML's MSE falls to its best at iteration 30, then rises; the baseline's keeps falling (and is not looked at)
    _scripted(trainer, {"maml/K10/step10": [3.0, 2.0, 1.0, 1.5, 2.5], "pretrained/K10/step10": [5, 4, 3, 2, 0.1]})
    snapshots = {r.iteration: r.snapshot for r in trainer.iterate(snapshot_every=10)}
    kept = trainer.best.kept
    assert kept is not None and (kept.iteration, kept.value) == (30, 1.0)
    assert kept.validation["maml/K10/step10"] == 1.0 and kept.inner_lrs is None
    for name, value in snapshots[30]["maml"].items():
        assert torch.equal(kept.params[name], value)
        assert not torch.equal(kept.params[name], snapshots[50]["maml"][name])
    assert trainer.best.record(50) == {
        "chosen": True,
        "metric": "maml/K10/step10",
        "higher_is_better": False,
        "iteration": 30,
        "value": 1.0,
        "last_iteration": 50,
        "last_value": 2.5,
    }
    assert trainer.best.summary(50) == "kept iteration 30 (val MSE 1) of 50; the last had val MSE 2.5"
    assert trainer.best.restore(trainer.learners[0])
    for name, value in trainer.snapshot()["maml"].items():
        assert torch.equal(value, snapshots[30]["maml"][name])
    for name, value in trainer.snapshot()["pretrained"].items():  # the baseline is left as trained
        assert torch.equal(value, snapshots[50]["pretrained"][name])


def test_keep_best_keeps_learned_step_sizes_and_ignores_non_finite_figures():
    cfg = dataclasses.replace(TINY, algo="metasgd", iterations=40, val_every=10)
    trainer = Trainer(cfg, keep_best=True)
    _scripted(trainer, {"metasgd/K10/step10": [2.0, 0.5, math.nan, 0.5]})  # a tie keeps the first
    lrs = {}
    for progress in trainer.iterate():
        if progress.validation:
            lrs[progress.iteration] = trainer.learners[0].learned_lrs()
    kept = trainer.best.kept
    assert kept.iteration == 20 and kept.inner_lrs
    for name, value in lrs[20].items():
        assert torch.equal(kept.inner_lrs[name], value) and not torch.equal(value, lrs[40][name])


def test_keep_best_selects_by_higher_accuracy_or_return():
    from mamlviz.core import registry

    accuracy = registry.get("omniglot").selection(TrainConfig(domain="omniglot"), "maml")
    assert accuracy.higher_is_better and accuracy.better(0.9, 0.8) and not accuracy.better(0.8, 0.9)
    assert accuracy.describe(0.971) == "val accuracy 97.1%"
    assert registry.get("nav2d").selection(TrainConfig(domain="nav2d"), "oracle").key == "oracle/return/step0"
    mse = registry.get("sinusoid").selection(TINY, "maml")
    assert (
        mse.better(0.5, 0.9) and not mse.better(0.9, 0.5) and mse.better(0.9, None) and not mse.better(math.inf, None)
    )


def test_the_declared_sinusoid_figure_is_one_validation_reports_and_no_flag_keeps_nothing():
    cfg = dataclasses.replace(TINY, iterations=10, val_every=5)
    trainer = Trainer(cfg, keep_best=True)
    records = [r for r in trainer.iterate() if r.validation]
    assert trainer.best.metric.key in records[-1].validation and trainer.best.kept is not None
    plain = Trainer(cfg)
    assert plain.best is None
    for _ in plain.iterate():
        pass
    assert plain.best is None


def test_keep_best_refuses_a_validation_without_its_figure():
    trainer = Trainer(dataclasses.replace(TINY, iterations=5, val_every=5), keep_best=True)
    _scripted(trainer, {"maml/other": [1.0]})
    with pytest.raises(ConfigError, match="maml/K10/step10"):
        for _ in trainer.iterate():
            pass
