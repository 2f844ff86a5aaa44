"""The MAML family against per-task autograd loops on a tiny float64 problem."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from safetensors.torch import load_file
from torch.nn import functional as F

from mamlviz.cli import main
from mamlviz.core.algorithms import (
    cosine_factor,
    initial_inner_lrs,
    inner_loop_for,
    msl_weights,
    sgd_steps,
    with_task_inputs,
)
from mamlviz.core.checkpoint import Initialization, load_initialization, save_initialization
from mamlviz.core.config import ModelConfig, TaskConfig, TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.errors import CheckpointError, ConfigError
from mamlviz.core.evaluate import adapt, mse_after_steps
from mamlviz.core.model import expand_to_tasks, init_params, layer_names, make_mlp
from mamlviz.core.sinusoid.evaluation import eval_tasks
from mamlviz.core.sinusoid.tasks import sample_tasks
from mamlviz.core.train import Learner, Trainer, gradient_for, objective_for

TINY = TrainConfig(
    inner_steps=2, inner_lr=0.05, meta_batch=3, task=TaskConfig(shots=4, queries=3), model=ModelConfig(hidden=(6, 5))
)


def tiny(algo: str = "maml", **changes: object) -> TrainConfig:
    model = ModelConfig(hidden=(6, 5), in_features=3 if algo == "oracle" else 1)
    return dataclasses.replace(TINY, algo=algo, model=model, **changes)


def theta64(cfg: TrainConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    return init_params(cfg.model, default_generator(seed), dtype=torch.float64)


def batch64(cfg: TrainConfig, seed: int = 1):
    return sample_tasks(cfg.task, cfg.meta_batch, default_generator(seed), dtype=torch.float64)


def ref_forward(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """One task, no task dimension: plain F.linear / ReLU."""
    names = [name for name in params if name.endswith(".weight")]
    for i, w in enumerate(names):
        x = F.linear(x, params[w], params[w.replace("weight", "bias")])
        if i < len(names) - 1:
            x = torch.relu(x)
    return x


def ref_maml_loss(theta, lrs, batch, cfg, *, adapted=None, weights=None, first_order=False):
    """Per-task clone-and-adapt loop with autograd; mean over tasks of the (weighted) query loss."""
    total = 0.0
    for t in range(batch.support_x.shape[0]):
        params = dict(theta)
        losses = []
        for step in range(cfg.inner_steps):
            support = F.mse_loss(ref_forward(params, batch.support_x[t]), batch.support_y[t])
            names = adapted or list(params)
            grads = torch.autograd.grad(support, [params[k] for k in names], create_graph=not first_order)
            for k, g in zip(names, grads, strict=True):
                lr = lrs[k][min(step, lrs[k].shape[0] - 1)] if k in lrs else cfg.inner_lr
                params[k] = params[k] - lr * g
            losses.append(F.mse_loss(ref_forward(params, batch.query_x[t]), batch.query_y[t]))
        total = total + (
            losses[-1] if weights is None else sum(w * loss for w, loss in zip(weights, losses, strict=True))
        )
    return total / batch.support_x.shape[0]


def leaves(params):
    return {k: v.clone().requires_grad_(True) for k, v in params.items()}


@pytest.mark.parametrize(
    ("algo", "options"),
    [
        ("maml", {}),
        ("anil", {}),
        ("metasgd", {}),
        ("maml", {"lslr": True}),
        ("maml", {"msl": True, "iterations": 40}),
        ("anil", {"lslr": True, "msl": True, "iterations": 40}),
    ],
)
def test_meta_gradients_match_a_per_task_loop(algo, options):
    cfg = tiny(algo, **options)
    theta = leaves(theta64(cfg))
    torch.manual_seed(0)
    lrs = {
        k: (v * (1 + 0.5 * torch.rand_like(v))).requires_grad_(True)
        for k, v in initial_inner_lrs(algo, cfg, theta).items()
    }
    batch = batch64(cfg)
    iteration = 3
    loss, _ = objective_for(algo, cfg)(theta, lrs, batch, iteration)
    variables = [*theta.values(), *lrs.values()]
    grads = torch.autograd.grad(loss, variables)
    adapted = list(inner_loop_for(cfg, algo=algo).adapted or theta)
    weights = msl_weights(cfg.inner_steps, iteration, cfg.iterations // 10) if cfg.msl else None
    ref = ref_maml_loss(theta, lrs, batch, cfg, adapted=adapted, weights=weights)
    ref_grads = torch.autograd.grad(ref, variables)
    torch.testing.assert_close(loss, ref)
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r)
    if lrs:
        assert all(float(g.abs().sum()) > 0 for g in grads[len(theta) :]), "learned step sizes get gradients"


def test_reptile_moves_theta_by_epsilon_times_mean_adapted_difference():
    cfg = tiny("reptile", epsilon=0.3)
    theta = theta64(cfg)
    batch = batch64(cfg)
    learner = Learner("reptile", cfg, theta, torch.device("cpu"))
    learner.step(batch, 1)
    x = torch.cat([batch.support_x, batch.query_x], 1)
    y = torch.cat([batch.support_y, batch.query_y], 1)
    moved = {k: torch.zeros_like(v) for k, v in theta.items()}
    for t in range(cfg.meta_batch):
        phi = leaves(theta)
        for _ in range(cfg.inner_steps):
            grads = torch.autograd.grad(F.mse_loss(ref_forward(phi, x[t]), y[t]), list(phi.values()))
            phi = {
                k: (v - cfg.inner_lr * g).detach().requires_grad_(True)
                for (k, v), g in zip(phi.items(), grads, strict=True)
            }
        for k in theta:
            moved[k] += (phi[k].detach() - theta[k]) / cfg.meta_batch
    for k in theta:
        torch.testing.assert_close(learner.theta[k].detach(), theta[k] + cfg.epsilon * moved[k])
        assert float(moved[k].abs().max()) > 0


def test_anil_inner_loop_leaves_the_body_unchanged_in_training_and_at_test_time():
    cfg = tiny("anil")
    theta = theta64(cfg)
    batch = batch64(cfg)
    loop = inner_loop_for(cfg)
    head = set(layer_names(cfg.model)[-1])
    assert set(loop.adapted) == head
    adapted = sgd_steps(expand_to_tasks(theta, cfg.meta_batch), batch.support_x, batch.support_y, loop, 3)[-1]
    for k, v in adapted.items():
        changed = not torch.equal(v, expand_to_tasks(theta, cfg.meta_batch)[k])
        assert changed == (k in head), k
    result = adapt(theta, batch.support_x[0], batch.support_y[0], batch.query_x[0], loop, 3)
    assert all(torch.equal(result.params[-1][k], theta[k]) == (k not in head) for k in theta)


def test_msl_weights_sum_to_one_and_anneal_toward_the_last_step():
    steps, anneal = 5, 100
    first = msl_weights(steps, 1, anneal)
    torch.testing.assert_close(first, torch.full((steps,), 1 / steps, dtype=torch.float64))
    previous = first
    for iteration in (20, 50, 100, 101, 500):
        weights = msl_weights(steps, iteration, anneal)
        assert math.isclose(float(weights.sum()), 1.0)
        assert float(weights[-1]) >= float(previous[-1])
        assert bool((weights[:-1] <= previous[:-1]).all())
        assert bool((weights[:-1] >= 0.03 / steps - 1e-12).all())
        previous = weights
    assert float(previous[-1]) == pytest.approx(1 - (steps - 1) * 0.03 / steps)


def test_lslr_step_sizes_are_per_layer_and_step_and_are_learned():
    cfg = tiny("maml", lslr=True, inner_steps=3)
    learner = Learner("maml", cfg, theta64(cfg), torch.device("cpu"))
    assert set(learner.inner_lrs) == set(learner.theta)
    assert all(v.shape == (3, *[1] * learner.theta[k].dim()) for k, v in learner.inner_lrs.items())
    before = learner.learned_lrs()
    learner.step(batch64(cfg), 1)
    assert all(
        learner.inner_lrs[k].grad is not None and float(learner.inner_lrs[k].grad.abs().sum()) > 0 for k in before
    )
    assert any(not torch.equal(before[k], learner.inner_lrs[k].detach()) for k in before)


def test_step_sizes_can_have_their_own_adam_learning_rate():
    cfg = tiny("maml", lslr=True, step_size_lr=1e-5)
    learner = Learner("maml", cfg, theta64(cfg), torch.device("cpu"))
    before, theta = learner.learned_lrs(), learner.snapshot()
    learner.step(batch64(cfg), 1)
    lr_move = max(float((learner.inner_lrs[k].detach() - v).abs().max()) for k, v in before.items())
    theta_move = max(float((learner.theta[k].detach() - v).abs().max()) for k, v in theta.items())
    assert lr_move == pytest.approx(1e-5, rel=1e-3)  # Adam's first step moves each entry by its learning rate
    assert theta_move == pytest.approx(cfg.meta_lr, rel=1e-3)


def test_learned_step_sizes_never_go_negative():
    cfg = tiny("metasgd", inner_lr=1e-4, step_size_lr=1e-3)  # Adam's first step moves every entry by 1e-3
    learner = Learner("metasgd", cfg, theta64(cfg), torch.device("cpu"))
    learner.step(batch64(cfg), 1)
    lrs = torch.cat([v.detach().flatten() for v in learner.inner_lrs.values()])
    assert float(lrs.min()) == 0.0  # some entries were pushed below zero and held at zero
    assert float(lrs.max()) == pytest.approx(1e-4 + 1e-3, rel=1e-3)


def test_first_order_until_switches_the_meta_gradient_order():
    cfg = tiny("maml", first_order_until=5)
    theta, batch = leaves(theta64(cfg)), batch64(cfg)

    def grad(iteration, algo_cfg=cfg, algo="maml"):
        loss, _ = objective_for(algo, algo_cfg)(theta, {}, batch, iteration)
        return torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(theta.values()))])

    first, second = grad(5), grad(6)
    torch.testing.assert_close(first, grad(5, tiny("fomaml"), "fomaml"))
    torch.testing.assert_close(second, grad(6, tiny("maml"), "maml"))
    assert not torch.allclose(first, second)
    fast = gradient_for("maml", cfg)  # the trainer's hand-written path switches too
    for iteration, expected in ((5, first), (6, second)):
        grads, _, _ = fast(theta, {}, batch, iteration)
        torch.testing.assert_close(torch.cat([g.flatten() for g in grads.values()]), expected)


def test_cosine_schedule_anneals_the_meta_learning_rate():
    assert cosine_factor(1, 100) == pytest.approx(1.0)
    assert cosine_factor(51, 100) == pytest.approx(0.5)
    assert cosine_factor(101, 100) == pytest.approx(0.0, abs=1e-12)
    cfg = tiny("maml", cosine=True, iterations=8)
    learner = Learner("maml", cfg, theta64(cfg), torch.device("cpu"))
    batch = batch64(cfg)
    for iteration in range(1, 9):
        learner.step(batch, iteration)
        expected = cfg.meta_lr * 0.5 * (1 + math.cos(math.pi * (iteration - 1) / 8))
        assert learner.optimizer.param_groups[0]["lr"] == pytest.approx(expected)


def test_oracle_sees_amplitude_and_phase():
    cfg = tiny("oracle")
    batch = batch64(cfg)
    view = with_task_inputs(batch)
    assert view.support_x.shape == (cfg.meta_batch, cfg.task.shots, 3)
    torch.testing.assert_close(view.query_x[:, :, 1], batch.amplitude[:, None].expand(-1, cfg.task.queries))
    torch.testing.assert_close(view.query_x[:, :, 2], batch.phase[:, None].expand(-1, cfg.task.queries))
    trainer = Trainer(dataclasses.replace(cfg, iterations=2, val_every=1), with_baseline=True)
    assert [learner.algo for learner in trainer.learners] == ["oracle"]
    assert trainer.learners[0].theta["0.weight"].shape == (6, 3)
    progress = list(trainer.iterate())
    assert set(progress[-1].validation) == {f"oracle/K{k}/step{s}" for k in (5, 10) for s in (1, 10)}
    theta = trainer.snapshot()["oracle"]
    loop = inner_loop_for(cfg)
    grid = torch.linspace(-5, 5, 7).unsqueeze(1)
    result = adapt(theta, batch.support_x[0].float(), batch.support_y[0].float(), grid, loop, 2, task=(2.0, 1.0))
    assert result.predictions.shape == (3, 7)
    assert torch.equal(result.predictions[0], result.predictions[2]), "the oracle is a flat reference: not adapted"
    mse = mse_after_steps(theta, eval_tasks(cfg.task, 5, 4, seed=0), loop, 2)
    assert torch.equal(mse[0], mse[2])
    with pytest.raises(ConfigError, match="amplitude and phase"):
        adapt(theta, batch.support_x[0], batch.support_y[0], grid, loop, 2)
    with pytest.raises(ConfigError, match="oracle takes 3 inputs"):
        TrainConfig(algo="oracle").validate()


def test_learned_step_sizes_round_trip_and_are_used_at_test_time(tmp_path):
    cfg = tiny("metasgd")
    theta = init_params(cfg.model, default_generator(0))
    lrs = {k: torch.zeros_like(v) for k, v in initial_inner_lrs("metasgd", cfg, theta).items()}
    lrs["2.bias"] = torch.full_like(lrs["2.bias"], 0.02)
    path = tmp_path / "metasgd.safetensors"
    save_initialization(path, Initialization(theta, cfg, "metasgd", 1, {}, lrs))
    loaded = load_initialization(path)
    assert set(loaded.inner_lrs) == set(lrs)
    for k in lrs:
        torch.testing.assert_close(loaded.inner_lrs[k], lrs[k])
    module = make_mlp(cfg.model)
    result = module.load_state_dict(load_file(path), strict=False)
    assert sorted(result.unexpected_keys) == sorted(f"inner_lr.{k}" for k in lrs)
    assert not result.missing_keys
    # Only the middle layer's bias may move at test time: its learned step is the only non-zero one.
    tasks = eval_tasks(cfg.task, 5, 4, seed=0)
    loop = inner_loop_for(loaded.config, loaded.inner_lrs, 0.01, algo=loaded.algorithm)
    mse = mse_after_steps(loaded.params, tasks, loop, 2)
    plain = mse_after_steps(loaded.params, tasks, 0.01, 2)
    assert not torch.allclose(mse[1], plain[1])
    adapted = adapt(loaded.params, tasks.support_x[0], tasks.support_y[0], tasks.query_x[0], loop, 2).params[-1]
    assert [k for k in theta if not torch.equal(adapted[k], loaded.params[k])] == ["2.bias"]


def test_damaged_learned_step_sizes_are_refused(tmp_path):
    cfg = tiny("metasgd")
    theta = init_params(cfg.model, default_generator(0))
    path = tmp_path / "bad.safetensors"
    with pytest.raises(CheckpointError, match=r"inner_lr\.0\.weight"):
        save_initialization(path, Initialization(theta, cfg, "metasgd", inner_lrs={"0.weight": torch.ones(1, 2, 2)}))
    with pytest.raises(CheckpointError, match="names no parameter"):
        save_initialization(path, Initialization(theta, cfg, "metasgd", inner_lrs={"9.weight": torch.ones(1, 1)}))


@pytest.mark.parametrize(
    "algo_args",
    [
        ["--algo", "reptile", "--inner-steps", "3", "--epsilon", "0.5"],
        ["--algo", "metasgd"],
        ["--algo", "anil"],
        ["--algo", "maml", "--inner-steps", "2", "--msl", "--lslr", "--first-order-until", "2", "--cosine"],
        ["--algo", "oracle"],
    ],
)
def test_cli_trains_exports_and_evaluates_each_algorithm(tmp_path, capsys, algo_args):
    out = tmp_path / "init.safetensors"
    common = ["--iters", "4", "--val-every", "2", "--meta-batch", "3", "--hidden", "8,8", "--out", str(out)]
    assert main(["train", *algo_args, *common]) == 0
    init = load_initialization(out)
    assert init.algorithm == algo_args[1]
    assert init.iterations == 4
    learns_lrs = algo_args[1] == "metasgd" or "--lslr" in algo_args
    assert (init.inner_lrs is not None) == learns_lrs
    capsys.readouterr()
    assert main(["eval", str(out), "--tasks", "8", "--steps", "2", "--shots", "5"]) == 0
    table = capsys.readouterr().out
    assert f"init.safetensors             {algo_args[1]}" in table
    assert main(["info", str(out)]) == 0
    assert ("inner lrs:   learned" in capsys.readouterr().out) == learns_lrs


def test_cli_refuses_mamlpp_options_with_other_algorithms(capsys):
    assert main(["train", "--algo", "reptile", "--msl", "--iters", "1", "--out", "x.safetensors"]) == 2
    assert "error: the MAML++ options (msl) need maml or anil, not reptile." in capsys.readouterr().err
