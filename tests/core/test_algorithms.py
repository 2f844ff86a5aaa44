"""The batched algorithms against a plain per-task autograd loop, in float64."""

from unittest import mock

import pytest
import torch
from torch.func import functional_call

from mamlviz.core.algorithms import maml_loss, maml_meta_gradient, pretrained_gradient, sgd_steps
from mamlviz.core.config import ModelConfig, TaskConfig
from mamlviz.core.data import default_generator
from mamlviz.core.model import expand_to_tasks, forward, init_params, make_mlp, mse_loss_and_grad
from mamlviz.core.sinusoid.tasks import sample_tasks

MODEL = ModelConfig(hidden=(8, 6))
TASKS = TaskConfig(shots=5, queries=7)


@pytest.fixture
def setup():
    gen = default_generator(3)
    theta = init_params(MODEL, gen, dtype=torch.float64)
    batch = sample_tasks(TASKS, 4, gen, dtype=torch.float64)
    return theta, batch


def reference_meta_gradient(theta, batch, lr, steps, first_order):
    """Per-task clone-and-adapt loop with nn.Sequential and autograd (the learn2learn way)."""
    module = make_mlp(MODEL).double()
    leaves = {k: v.clone().requires_grad_(True) for k, v in theta.items()}
    total = 0.0
    n_tasks = batch.support_x.shape[0]
    for t in range(n_tasks):
        params = dict(leaves)
        for _ in range(steps):
            loss = ((functional_call(module, params, (batch.support_x[t],)) - batch.support_y[t]) ** 2).mean()
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=not first_order)
            params = {k: p - lr * g for (k, p), g in zip(params.items(), grads, strict=True)}
        total = total + ((functional_call(module, params, (batch.query_x[t],)) - batch.query_y[t]) ** 2).mean()
    grads = torch.autograd.grad(total / n_tasks, list(leaves.values()))
    return dict(zip(leaves, grads, strict=True))


def batched_meta_gradient(theta, batch, lr, steps, first_order):
    leaves = {k: v.clone().requires_grad_(True) for k, v in theta.items()}
    post, _ = maml_loss(leaves, batch, lr, steps, first_order=first_order)
    return dict(zip(leaves, torch.autograd.grad(post, list(leaves.values())), strict=True))


def test_hand_written_gradient_matches_autograd(setup):
    theta, batch = setup
    params = {k: v.clone().requires_grad_(True) for k, v in expand_to_tasks(theta, 4).items()}
    loss, grads = mse_loss_and_grad(params, batch.support_x, batch.support_y)
    expected = torch.autograd.grad(loss.sum(), list(params.values()))
    for (name, got), want in zip(grads.items(), expected, strict=True):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0, msg=name)


def fast_meta_gradient(theta, batch, lr, steps, first_order):
    return maml_meta_gradient(theta, batch, lr, steps, first_order=first_order)[0]


@pytest.mark.parametrize("as_compiled", [False, True], ids=["eager", "compiled-form"])
@pytest.mark.parametrize("implementation", [batched_meta_gradient, fast_meta_gradient])
@pytest.mark.parametrize("steps", [1, 3, 5])
@pytest.mark.parametrize("first_order", [False, True])
def test_meta_gradient_matches_per_task_loop(setup, implementation, steps, first_order, as_compiled):
    """`as_compiled` runs the forms a compiled graph takes (products with a dimension of one as broadcasts)."""
    theta, batch = setup
    with mock.patch("torch.compiler.is_compiling", return_value=as_compiled):
        got = implementation(theta, batch, 0.05, steps, first_order)
    want = reference_meta_gradient(theta, batch, 0.05, steps, first_order)
    for name in theta:
        assert (got[name] - want[name]).abs().max().item() < 1e-8, name


def test_fast_path_reports_the_same_losses(setup):
    theta, batch = setup
    _, post, pre = maml_meta_gradient(theta, batch, 0.05, 2)
    want_post, want_pre = maml_loss(theta, batch, 0.05, 2)
    torch.testing.assert_close(post, want_post)
    torch.testing.assert_close(pre, want_pre)


def test_second_order_term_is_present(setup):
    theta, batch = setup
    exact = batched_meta_gradient(theta, batch, 0.05, 1, first_order=False)
    first = batched_meta_gradient(theta, batch, 0.05, 1, first_order=True)
    difference = max((exact[k] - first[k]).abs().max().item() for k in theta)
    scale = max(exact[k].abs().max().item() for k in theta)
    assert difference > 1e-3 * scale


def test_sgd_trajectory_is_plain_sgd(setup):
    theta, batch = setup
    params = expand_to_tasks(theta, 4)
    trajectory = sgd_steps(params, batch.support_x, batch.support_y, 0.1, 2)
    assert len(trajectory) == 3
    _, g0 = mse_loss_and_grad(params, batch.support_x, batch.support_y)
    for k in theta:
        torch.testing.assert_close(trajectory[1][k], params[k] - 0.1 * g0[k])


@pytest.mark.parametrize("as_compiled", [False, True], ids=["eager", "compiled-form"])
def test_pretrained_gradient_is_joint_regression(setup, as_compiled):
    theta, batch = setup
    x = torch.cat([batch.support_x, batch.query_x], 1)
    y = torch.cat([batch.support_y, batch.query_y], 1)
    module = make_mlp(MODEL).double()
    leaves = {k: v.clone().requires_grad_(True) for k, v in theta.items()}
    expected = torch.stack([((functional_call(module, leaves, (x[t],)) - y[t]) ** 2).mean() for t in range(4)]).mean()
    expected_grads = torch.autograd.grad(expected, list(leaves.values()))
    with mock.patch("torch.compiler.is_compiling", return_value=as_compiled):
        grads, loss = pretrained_gradient(theta, batch)
    torch.testing.assert_close(loss, expected)
    for name, expected_grad in zip(leaves, expected_grads, strict=True):
        torch.testing.assert_close(grads[name], expected_grad, rtol=1e-10, atol=1e-12)


def test_forward_shapes_and_module_equivalence(setup):
    theta, batch = setup
    out = forward(expand_to_tasks(theta, 4), batch.query_x)
    assert out.shape == (4, 7, 1)
    module = make_mlp(MODEL).double()
    module.load_state_dict(theta)
    torch.testing.assert_close(out[2], module(batch.query_x[2]))
