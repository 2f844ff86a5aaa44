"""The fused meta-iteration (meta-gradient, finite check, Adam) against the eager learner, in float64."""

import dataclasses
import math

import pytest
import torch

from mamlviz.core.config import ModelConfig, TaskConfig, TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.errors import TrainingDiverged
from mamlviz.core.fused import MetaUpdate, compile_by_default
from mamlviz.core.model import init_params
from mamlviz.core.sinusoid.tasks import sample_tasks
from mamlviz.core.train import Learner, gradient_for

CFG = TrainConfig(meta_batch=4, task=TaskConfig(shots=5, queries=6), model=ModelConfig(hidden=(8, 6)))


def _learners(algo: str, steps: int, cosine: bool = False) -> tuple[Learner, Learner]:
    cfg = dataclasses.replace(CFG, algo=algo, inner_steps=steps, inner_lr=0.05, meta_lr=0.01, cosine=cosine)
    if algo == "oracle":  # it also sees each task's amplitude and phase
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, in_features=3))
    theta = init_params(cfg.model, default_generator(0), dtype=torch.float64)
    eager = Learner(algo, cfg, theta, torch.device("cpu"))
    update = MetaUpdate(algo, cfg, gradient_for(algo, cfg), compile=False)
    fused = Learner(algo, cfg, theta, torch.device("cpu"), update)
    return eager, fused


@pytest.mark.parametrize("algo", ["maml", "fomaml"])
@pytest.mark.parametrize("steps", [1, 5])
def test_fused_steps_are_torch_adam_on_the_meta_gradient(algo, steps):
    eager, fused = _learners(algo, steps, cosine=True)
    generator = default_generator(1)
    for iteration in range(1, 8):
        batch = sample_tasks(CFG.task, CFG.meta_batch, generator, dtype=torch.float64)
        want, got = eager.step(batch, iteration), fused.step(batch, iteration)
        for key in want:
            torch.testing.assert_close(got[key], want[key], rtol=1e-12, atol=1e-14)
    assert fused.fused_steps == 7
    for name, value in eager.snapshot().items():
        torch.testing.assert_close(fused.snapshot()[name], value, rtol=1e-10, atol=1e-12, msg=name)


@pytest.mark.parametrize("algo", ["pretrained", "oracle"])
def test_fused_joint_regressor_steps_are_torch_adam_on_its_gradient(algo):
    eager, fused = _learners(algo, 1, cosine=True)
    generator = default_generator(1)
    for iteration in range(1, 8):
        batch = sample_tasks(CFG.task, CFG.meta_batch, generator, dtype=torch.float64)
        want, got = eager.step(batch, iteration), fused.step(batch, iteration)
        assert list(got) == [algo]
        torch.testing.assert_close(got[algo], want[algo], rtol=1e-12, atol=1e-14)
    for name, value in eager.snapshot().items():
        torch.testing.assert_close(fused.snapshot()[name], value, rtol=1e-10, atol=1e-12, msg=name)


def test_a_non_finite_step_changes_nothing_and_says_so():
    _, fused = _learners("maml", 1)
    generator = default_generator(1)
    fused.step(sample_tasks(CFG.task, CFG.meta_batch, generator, dtype=torch.float64), 1)
    before = [fused.snapshot(), *[{k: v.clone() for k, v in m.items()} for m in fused.moments]]
    bad = sample_tasks(CFG.task, CFG.meta_batch, generator, dtype=torch.float64)
    bad.support_y[0, 0] = math.nan
    with pytest.raises(TrainingDiverged, match="iteration 2"):
        fused.step(bad, 2)
    for saved, now in zip(before, [fused.snapshot(), *fused.moments], strict=True):
        for name, value in saved.items():
            assert torch.equal(now[name], value), name
    assert fused.fused_steps == 1


def test_auto_compiles_only_long_runs_of_the_hand_written_algorithms():
    assert compile_by_default(dataclasses.replace(CFG, iterations=70_000))
    assert not compile_by_default(dataclasses.replace(CFG, iterations=2_000))
    assert not compile_by_default(dataclasses.replace(CFG, iterations=70_000, algo="reptile"))
    assert not compile_by_default(dataclasses.replace(CFG, iterations=70_000, inner_steps=5, msl=True))
    assert compile_by_default(dataclasses.replace(CFG, iterations=70_000, algo="pretrained"))
