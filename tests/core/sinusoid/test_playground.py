import numpy as np
import pytest
import torch

from mamlviz.core.algorithms import InnerLoop
from mamlviz.core.config import ModelConfig, TaskConfig
from mamlviz.core.data import Truth, check_points, default_generator
from mamlviz.core.errors import ConfigError
from mamlviz.core.model import init_params, make_mlp
from mamlviz.core.sinusoid.playground import adapt_all, make_probe, probe_fit, sample_points


@pytest.fixture
def inits():
    model = ModelConfig(hidden=(16, 16))
    return {
        "maml": init_params(model, default_generator(0), torch.float64),
        "pretrained": init_params(model, default_generator(1), torch.float64),
    }


def _sgd_reference(theta, points, grid, lr, steps):
    """Plain autograd SGD on an nn.Sequential, one model, float64."""
    net = make_mlp(ModelConfig(hidden=(16, 16))).double()
    net.load_state_dict(theta)
    x = torch.tensor(points[:, :1])
    y = torch.tensor(points[:, 1:])
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        opt.step()
    with torch.no_grad():
        return net(torch.tensor(grid)[:, None])[:, 0].numpy()


def test_adapt_all_matches_autograd_sgd_for_every_named_init(inits):
    points = np.array([[-2.0, 1.0], [0.5, -0.3], [3.0, 2.2]])
    grid = np.linspace(-5, 5, 30)
    truth = Truth(2.0, 0.5)
    curves = adapt_all(inits, points, grid, lr=0.05, steps=4, truth=truth)
    assert list(curves) == ["maml", "pretrained"]
    for name, theta in inits.items():
        assert curves[name].predictions.shape == (5, 30)
        np.testing.assert_allclose(curves[name].predictions[4], _sgd_reference(theta, points, grid, 0.05, 4), atol=1e-9)
        expected_mse = ((curves[name].predictions - truth(grid)) ** 2).mean(axis=1)
        np.testing.assert_allclose(curves[name].true_mse, expected_mse)
        assert curves[name].support_loss[-1] < curves[name].support_loss[0]


def test_no_points_gives_the_unadapted_curve_only(inits):
    grid = np.linspace(-5, 5, 11)
    curves = adapt_all(inits, np.zeros((0, 2)), grid, lr=0.01, steps=10)
    assert curves["maml"].predictions.shape == (1, 11)
    assert curves["maml"].true_mse is None
    unadapted = _sgd_reference(inits["maml"], np.zeros((0, 2)), grid, 0, 0)
    np.testing.assert_allclose(curves["maml"].predictions[0], unadapted)


@pytest.mark.parametrize("bad", [[[np.nan, 1.0]], [[1.0, np.inf]], [[1e9, 0.0]]])
def test_check_points_refuses_nan_infinite_and_huge(bad):
    with pytest.raises(ConfigError):
        check_points(bad)


def test_thousands_of_points_and_sampled_points_lie_on_the_truth(inits):
    truth = Truth(3.0, 1.0)
    points = sample_points(truth, 3000, (-5, 5), np.random.default_rng(0))
    np.testing.assert_allclose(points[:, 1], truth(points[:, 0]))
    curves = adapt_all(inits, points, np.linspace(-5, 5, 50), lr=0.01, steps=10, truth=truth)
    assert not curves["maml"].diverged


def test_probe_is_seeded_and_fit_has_three_rows(inits):
    probe = make_probe(TaskConfig(), shots=5)
    assert np.array_equal(probe.points, make_probe(TaskConfig(), shots=5).points)
    assert probe.points.shape == (5, 2)
    np.testing.assert_allclose(probe.points[:, 1], probe.truth(probe.points[:, 0]), atol=1e-5)
    fit = probe_fit(inits["maml"], probe, lr=0.01, steps=5)
    assert fit.shape == (3, len(probe.grid))
    full = adapt_all({"m": inits["maml"]}, probe.points, probe.grid, 0.01, 5)["m"].predictions
    np.testing.assert_allclose(fit, full[[0, 1, 5]])


def _loop_reference(theta, points, grid, steps, step_size, adapted):
    """Autograd SGD on an nn.Sequential where parameter `name` moves by step_size(name) · grad, only if adapted."""
    net = make_mlp(ModelConfig(hidden=(16, 16))).double()
    net.load_state_dict(theta)
    x, y = torch.tensor(points[:, :1]), torch.tensor(points[:, 1:])
    for _ in range(steps):
        net.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        with torch.no_grad():
            for name, param in net.named_parameters():
                if name in adapted:
                    param -= step_size(name) * param.grad
    with torch.no_grad():
        return net(torch.tensor(grid)[:, None])[:, 0].numpy()


def test_adapt_all_uses_each_inits_loop_head_only_and_learned_step_sizes(inits):
    points = np.array([[-2.0, 1.0], [0.5, -0.3], [3.0, 2.2], [4.0, -1.0]])
    grid = np.linspace(-5, 5, 30)
    names = tuple(inits["maml"])
    learned = {
        k: torch.rand(1, *v.shape, generator=default_generator(3), dtype=torch.float64) * 0.1
        for k, v in inits["maml"].items()
    }
    loops = {"maml": InnerLoop(learned_lrs=learned), "pretrained": InnerLoop(adapted=names[-2:])}
    curves = adapt_all(inits, points, grid, lr=0.05, steps=3, loops=loops)
    expected_learned = _loop_reference(inits["maml"], points, grid, 3, lambda k: learned[k][0], names)
    expected_head = _loop_reference(inits["pretrained"], points, grid, 3, lambda k: 0.05, names[-2:])
    np.testing.assert_allclose(curves["maml"].predictions[-1], expected_learned, atol=1e-9)
    np.testing.assert_allclose(curves["pretrained"].predictions[-1], expected_head, atol=1e-9)
    plain = adapt_all(inits, points, grid, lr=0.05, steps=3)
    assert not np.allclose(plain["pretrained"].predictions[-1], expected_head)


def test_adapt_all_refuses_an_init_that_needs_task_inputs(inits):
    with pytest.raises(ConfigError, match="oracle"):
        adapt_all(inits, np.zeros((1, 2)), np.zeros(3), 0.01, 1, loops={"maml": InnerLoop(task_inputs=True)})
