"""Diagnostics of the MAML family against direct computations."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mamlviz.core.algorithms import InnerLoop, inner_loop_for
from mamlviz.core.config import ModelConfig, TaskConfig, TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.evaluate import adapt, mse_after_steps
from mamlviz.core.model import init_params
from mamlviz.core.sinusoid import diagnostics
from mamlviz.core.sinusoid.evaluation import eval_tasks
from mamlviz.core.sinusoid.tasks import sample_tasks
from mamlviz.core.train import objective_for

CFG = TrainConfig(meta_batch=6, task=TaskConfig(shots=5, queries=5), model=ModelConfig(hidden=(12, 10)))


@pytest.fixture
def theta():
    return init_params(CFG.model, default_generator(0), dtype=torch.float64)


@pytest.fixture
def batch():
    return sample_tasks(CFG.task, CFG.meta_batch, default_generator(1), dtype=torch.float64)


def test_gradient_flow_norms_and_cosine(theta, batch):
    flow = diagnostics.gradient_flow(theta, batch, InnerLoop(0.05), 2)
    leaves = {k: v.clone().requires_grad_(True) for k, v in theta.items()}
    loss, _ = objective_for("maml", dataclasses.replace(CFG, inner_lr=0.05, inner_steps=2))(leaves, {}, batch, 1)
    grads = torch.autograd.grad(loss, list(leaves.values()))
    expected = [float(torch.cat([grads[i].flatten(), grads[i + 1].flatten()]).norm()) for i in range(0, 6, 2)]
    np.testing.assert_allclose(flow.second_order, expected, rtol=1e-10)
    assert flow.labels == ["layer 1", "layer 2", "head"]
    assert -1 <= flow.cosine < 1 - 1e-6
    assert diagnostics.gradient_flow(theta, batch, InnerLoop(1e-9), 2).cosine == pytest.approx(1.0, abs=1e-9)


def test_weight_change_anil_moves_only_the_head(theta, batch):
    anil = diagnostics.weight_change(theta, batch, inner_loop_for(dataclasses.replace(CFG, algo="anil")), 3)
    maml = diagnostics.weight_change(theta, batch, inner_loop_for(CFG), 3)
    assert anil[:2].tolist() == [0.0, 0.0]
    assert anil[2] > 0
    assert (maml > 0).all()
    one = dataclasses.replace(batch, **{f: getattr(batch, f)[:1] for f in ("support_x", "support_y")})
    result = adapt(theta, one.support_x[0], one.support_y[0], one.support_x[0], CFG.inner_lr, 3).params[-1]
    delta = torch.cat([(result[k] - theta[k]).flatten() for k in ("4.weight", "4.bias")]).norm()
    head = torch.cat([theta[k].flatten() for k in ("4.weight", "4.bias")]).norm()
    single = diagnostics.weight_change(theta, one, inner_loop_for(CFG), 3)
    assert single[2] == pytest.approx(float(delta / head))


def test_meta_gradient_norms_grow_with_each_inner_step_count(theta, batch):
    norms = diagnostics.meta_gradient_norms(theta, batch, InnerLoop(0.05), 4)
    assert norms.shape == (4,)
    for steps in (1, 4):
        grads = diagnostics.meta_gradient(theta, batch, InnerLoop(0.05), steps, first_order=False)
        assert norms[steps - 1] == pytest.approx(float(torch.cat([g.flatten() for g in grads.values()]).norm()))


def test_task_space_mse_matches_single_task_adaptation(theta):
    amplitudes, phases = [0.5, 2.0, 4.5], [0.0, 1.5]
    grid = diagnostics.task_space_mse(theta, CFG.task, InnerLoop(0.01), 5, 3, amplitudes, phases, seed=3)
    assert grid.shape == (3, 2)
    tasks = diagnostics.task_grid(CFG.task, amplitudes, phases, 5, seed=3)
    cell = 1 * len(phases) + 1  # amplitude 2.0, phase 1.5
    assert float(tasks.amplitude[cell]) == 2.0
    assert float(tasks.phase[cell]) == 1.5
    one = adapt(theta, tasks.support_x[cell], tasks.support_y[cell], tasks.query_x[cell], 0.01, 3)
    expected = float((one.predictions[-1] - tasks.query_y[cell, :, 0].double()).pow(2).mean())
    assert grid[1, 1] == pytest.approx(expected, rel=1e-5)


def test_lr_sensitivity_rows_are_the_evaluation_at_each_alpha(theta):
    alphas = [1e-3, 1e-2]
    table = diagnostics.lr_sensitivity(theta, CFG.task, InnerLoop(0.5), 5, 2, alphas, n_tasks=20, seed=4)
    assert table.shape == (2, 3)
    for row, alpha in zip(table, alphas, strict=True):
        expected = (
            mse_after_steps(theta, eval_tasks(CFG.task, 5, 20, 4).to(torch.float64), alpha, 2).double().mean(1).numpy()
        )
        np.testing.assert_allclose(row, expected, rtol=1e-6)
    assert table[1, 2] != table[0, 2]
