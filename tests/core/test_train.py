import dataclasses
import math

import pytest
import torch

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
def test_compiled_meta_iterations_match_eager():
    cfg = dataclasses.replace(TINY, iterations=3)
    eager, compiled = Trainer(cfg), Trainer(cfg, compile=True)
    for _ in zip(eager.iterate(), compiled.iterate(), strict=True):
        pass
    for name, value in eager.snapshot()["maml"].items():
        torch.testing.assert_close(compiled.snapshot()["maml"][name], value, rtol=1e-4, atol=1e-6)
