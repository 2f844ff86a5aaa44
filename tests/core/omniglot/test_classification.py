"""Batched conv net and few-shot classification: float64 meta-gradients against a per-task loop,
plain-PyTorch equivalence, task sampling, training, export and user drawings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch.func import functional_call

from mamlviz.core.checkpoint import Initialization, load_initialization, save_initialization
from mamlviz.core.config import ClassificationConfig, TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.errors import DataError
from mamlviz.core.omniglot import convnet
from mamlviz.core.omniglot import training as classification_training
from mamlviz.core.omniglot.classification import (
    ImagePool,
    adapt_and_predict,
    ce_per_task,
    evaluate_classification,
    maml_ce_loss,
    pretrained_ce_loss,
    sample_classification_tasks,
)
from mamlviz.core.omniglot.convnet import HEAD, conv_forward, init_conv_params, make_convnet
from mamlviz.core.omniglot.data import OmniglotSplit, load_split
from mamlviz.core.train import Trainer
from tests.core.omniglot.fixtures import make_omniglot


@pytest.fixture
def pool() -> ImagePool:
    rng = np.random.default_rng(0)
    images = (rng.random((3, 6, 28, 28)) < 0.2).astype(np.uint8) * 255
    return ImagePool.from_split(OmniglotSplit(images, tuple(f"A/character{i:02d}" for i in range(3))))


def test_batched_forward_equals_plain_sequential_per_task():
    generator = default_generator(0)
    per_task = [init_conv_params(8, 4, generator, torch.float64) for _ in range(3)]
    batched = {k: torch.stack([p[k] for p in per_task]) for k in per_task[0]}
    x = torch.rand(3, 6, 1, 28, 28, generator=generator, dtype=torch.float64)
    logits = conv_forward(batched, x)
    for t, params in enumerate(per_task):
        module = make_convnet(8, 4).double()
        module.load_state_dict(params)
        torch.testing.assert_close(logits[t], module(x[t]))


def per_task_meta_gradient(theta, batch, lr, steps, first_order):
    """Reference: one task at a time through nn.Sequential with functional_call and autograd."""
    module = make_convnet(8, 5).double()
    total = 0
    for t in range(batch.support_x.shape[0]):
        fast = dict(theta)
        for _ in range(steps):
            loss = torch.nn.functional.cross_entropy(
                functional_call(module, fast, (batch.support_x[t],)), batch.support_y[t]
            )
            grads = torch.autograd.grad(loss, list(fast.values()), create_graph=not first_order)
            fast = {k: v - lr * g for (k, v), g in zip(fast.items(), grads, strict=True)}
        logits = functional_call(module, fast, (batch.query_x[t],))
        total = total + torch.nn.functional.cross_entropy(logits, batch.query_y[t])
    return torch.autograd.grad(total / batch.support_x.shape[0], list(theta.values()))


@pytest.mark.parametrize("first_order", [False, True])
def test_batched_meta_gradient_equals_per_task_loop_float64(pool, first_order):
    generator = default_generator(1)
    theta = {k: v.requires_grad_(True) for k, v in init_conv_params(8, 5, generator, torch.float64).items()}
    batch = sample_classification_tasks(pool, 5, 2, 2, 4, generator)
    batch = dataclasses.replace(batch, support_x=batch.support_x.double(), query_x=batch.query_x.double())
    post, pre = maml_ce_loss(theta, batch, 0.4, 2, first_order=first_order)
    batched = torch.autograd.grad(post, list(theta.values()))
    reference = per_task_meta_gradient(theta, batch, 0.4, 2, first_order)
    for name, got, want in zip(theta, batched, reference, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11, msg=name)
    assert not torch.allclose(post, pre.to(post))


def test_second_order_differs_from_first_order(pool):
    generator = default_generator(2)
    theta = {k: v.requires_grad_(True) for k, v in init_conv_params(8, 5, generator, torch.float64).items()}
    batch = sample_classification_tasks(pool, 5, 1, 1, 3, generator)
    batch = dataclasses.replace(batch, support_x=batch.support_x.double(), query_x=batch.query_x.double())
    grads = [
        torch.autograd.grad(maml_ce_loss(theta, batch, 0.4, 1, first_order=f)[0], theta["0.weight"])[0] for f in (0, 1)
    ]
    assert not torch.allclose(grads[0], grads[1])


def test_sampled_tasks_have_distinct_classes_balanced_labels_and_unseen_queries(pool):
    batch = sample_classification_tasks(pool, 5, 2, 3, 7, default_generator(3))
    assert batch.support_x.shape == (7, 10, 1, 28, 28)
    assert batch.query_x.shape == (7, 15, 1, 28, 28)
    assert all(len(set(row.tolist())) == 5 for row in batch.classes)
    assert batch.classes.max() < pool.n_classes == 12
    for labels, per_class in ((batch.support_y, 2), (batch.query_y, 3)):
        assert (torch.bincount(labels[0], minlength=5) == per_class).all()
    same = (batch.support_x[:, :, None] == batch.query_x[:, None]).flatten(3).all(-1)
    assert not same.any(), "a query drawing also appears in the support set"


def test_too_many_shots_or_ways_is_a_clear_error(pool):
    with pytest.raises(Exception, match="exceed the 6 drawings"):
        sample_classification_tasks(pool, 5, 4, 3, 1, default_generator(0))
    with pytest.raises(Exception, match="only 12"):
        sample_classification_tasks(pool, 20, 1, 1, 1, default_generator(0))


def test_pretrained_baseline_classifies_among_all_pool_classes(pool):
    generator = default_generator(4)
    theta = init_conv_params(8, pool.n_classes, generator)
    batch = sample_classification_tasks(pool, 5, 1, 1, 4, generator)
    loss = pretrained_ce_loss(theta, batch)
    assert abs(float(loss) - np.log(pool.n_classes)) < 1.5
    curve = evaluate_classification(theta, pool, 5, 1, 2, lr=0.4, n_tasks=6, queries=2)
    assert len(curve.mean) == 3
    assert curve.n_tasks == 6
    assert curve.mean[0] == pytest.approx(0.2), "a fresh zero head predicts class 0 for every query"


def test_a_pretrained_head_of_thousands_of_classes_is_evaluated_as_the_n_way_head_it_becomes(pool):
    """The memory bound counts what is adapted: 50 tasks × 4 copies of a 4,800-class head would be 1.0 GB."""
    theta = init_conv_params(64, 4800, default_generator(5))
    curve = evaluate_classification(theta, pool, 5, 1, 3, lr=0.4, n_tasks=50, queries=1)
    assert curve.n_tasks == 50


def test_training_through_the_trainer_exports_a_plain_pytorch_state_dict(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))
    data = make_omniglot(tmp_path / "data", characters=4)
    classification = ClassificationConfig(ways=3, shots=1, queries=2, filters=8, data=str(data))
    cfg = TrainConfig(
        domain="omniglot",
        algo="maml",
        iterations=3,
        inner_lr=0.4,
        meta_batch=4,
        val_every=2,
        val_tasks=5,
        classification=classification,
    )
    progress = list(Trainer(cfg, with_baseline=True).iterate())
    assert [p.iteration for p in progress] == [1, 2, 3]
    assert set(progress[0].losses) == {"maml/pre", "maml/post", "pretrained"}
    assert set(progress[1].validation) >= {"maml/3w1s/step0", "maml/3w1s/step3", "pretrained/3w1s/step1"}
    trainer = Trainer(cfg, with_baseline=True)
    next(trainer.iterate())
    snapshot = trainer.snapshot()
    assert snapshot["pretrained"][f"{HEAD}.weight"].shape[0] == 8 * 4  # 2 alphabets × 4 characters × 4 rotations
    assert snapshot["maml"][f"{HEAD}.weight"].shape[0] == 3
    for name, params in snapshot.items():
        path = tmp_path / f"{name}.safetensors"
        save_initialization(path, Initialization(params, cfg, name, 1))
        loaded = load_initialization(path)
        assert loaded.config == cfg
        module = make_convnet(8, params[f"{HEAD}.weight"].shape[0])
        module.load_state_dict(load_file(path))
        x = torch.rand(6, 1, 28, 28)
        torch.testing.assert_close(module(x), conv_forward({k: v[None] for k, v in params.items()}, x[None])[0])


def test_validation_tasks_come_from_the_evaluation_alphabets(tmp_path, monkeypatch):
    calls = []

    def spy(split, data=None, **kwargs):
        calls.append(split)
        return load_split(split, data, **kwargs)

    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(classification_training, "load_split", spy)
    data = make_omniglot(tmp_path / "data", characters=3)
    cfg = TrainConfig(domain="omniglot", classification=ClassificationConfig(data=str(data), filters=4), val_tasks=2)
    Trainer(cfg)
    assert calls == ["background", "evaluation"]


def test_validation_and_keep_best_reach_the_trained_number_of_inner_steps(tmp_path, monkeypatch):
    """A 20-way run trains with 5 inner steps: its validation reports, and --keep-best selects by, step 5."""
    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))
    data = make_omniglot(tmp_path / "data", characters=3)
    classification = ClassificationConfig(data=str(data), filters=4, ways=3, shots=1)
    cfg = TrainConfig(domain="omniglot", classification=classification, val_tasks=2, meta_batch=2, inner_steps=5)
    trainer = Trainer(cfg, keep_best=True)
    assert trainer.best is not None and trainer.best.metric.key == "maml/3w1s/step5"
    assert sorted(trainer.domain.validate(trainer.learners)) == [f"maml/3w1s/step{n}" for n in (0, 1, 3, 5)]
    one_step = Trainer(dataclasses.replace(cfg, inner_steps=1), keep_best=True)
    assert one_step.best is not None and one_step.best.metric.key == "maml/3w1s/step3"


def test_user_drawings_adapt_to_the_support_set(pool):
    theta = init_conv_params(8, 3, default_generator(5))
    images = pool.images[0, :, 0].numpy() / 255.0  # one drawing of each of 3 characters
    probs = adapt_and_predict(theta, images, np.arange(3), images, ways=3, lr=0.4, steps=5)
    assert probs.shape == (6, 3, 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    correct = probs[:, np.arange(3), np.arange(3)]
    assert (correct[-1] > correct[0]).all()
    assert (probs[-1].argmax(-1) == np.arange(3)).all()


def test_bad_drawings_are_one_sentence(pool):
    theta = init_conv_params(8, 3, default_generator(6))
    images = pool.images[0, :, 0].numpy() / 255.0
    empty = images.copy()
    empty[1] = 0
    with pytest.raises(DataError, match="support drawings number 2 is empty"):
        adapt_and_predict(theta, empty, np.arange(3), images, 3, 0.4, 1)
    with pytest.raises(DataError, match="must be 28×28 images"):
        adapt_and_predict(theta, images, np.arange(3), np.zeros((1, 32, 32)), 3, 0.4, 1)
    with pytest.raises(DataError, match="class 3 has no drawing"):
        adapt_and_predict(theta, images[:2], np.arange(2), images, 3, 0.4, 1)


def test_cross_entropy_per_task_is_per_task():
    logits = torch.zeros(2, 4, 3)
    logits[1, :, 0] = 10
    loss = ce_per_task(logits, torch.zeros(2, 4, dtype=torch.long))
    assert loss[0] == pytest.approx(np.log(3))
    assert loss[1] < 1e-3


def test_shared_layers_fold_tasks_with_per_task_first_and_second_derivatives():
    """θ viewed per task (stride 0: the fold-at-θ path) gives the grouped path's logits, per-task gradients
    and second derivatives."""
    generator = default_generator(7)
    theta = {k: v.requires_grad_(True) for k, v in init_conv_params(8, 5, generator, torch.float64).items()}
    x = torch.rand(3, 4, 1, 28, 28, generator=generator, dtype=torch.float64)
    y = torch.randint(5, (3, 4), generator=generator)
    weights = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)  # tasks weigh differently: per-task gradients differ
    probes = {k: torch.rand(3, *v.shape, generator=generator, dtype=torch.float64) for k, v in theta.items()}

    def derivatives(per_task):
        logits = conv_forward(per_task, x)
        grads = torch.autograd.grad(
            (ce_per_task(logits, y) * weights).sum(), list(per_task.values()), create_graph=True
        )
        value = sum((g * probe).sum() for g, probe in zip(grads, probes.values(), strict=True))
        return [logits, *grads, *torch.autograd.grad(value, list(theta.values()))]

    folded = {k: v.expand(3, *v.shape) for k, v in theta.items()}
    grouped = {k: v.expand(3, *v.shape).contiguous() for k, v in theta.items()}
    assert convnet.shared(folded["3.weight"]) and not convnet.shared(grouped["3.weight"])
    got, want = derivatives(folded), derivatives(grouped)
    assert not torch.allclose(got[1][0], got[1][1]), "per-task gradients differ"
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
