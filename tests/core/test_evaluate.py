import pytest
import torch

from mamlviz.core.config import ModelConfig, TaskConfig
from mamlviz.core.data import default_generator
from mamlviz.core.evaluate import adapt, mse_after_steps, summarize
from mamlviz.core.model import init_params
from mamlviz.core.sinusoid.evaluation import eval_tasks, evaluate
from mamlviz.core.sinusoid.tasks import query_grid


def test_summarize_counts_diverged_tasks_instead_of_nan():
    mse = torch.tensor([[1.0, 2.0, 6.0], [0.5, float("nan"), 1.0]])
    curve = summarize(5, mse)
    assert curve.diverged == 1 and curve.n_tasks == 3
    assert curve.mean == [3.0, 0.75]
    assert curve.ci95[1] == pytest.approx(1.96 * 0.125**0.5 / 2**0.5)


def test_evaluate_protocol_shapes_and_seeds():
    theta = init_params(ModelConfig(), default_generator(0))
    a = evaluate(theta, TaskConfig(), shots=5, steps=3, n_tasks=50, seed=9)
    b = evaluate(theta, TaskConfig(), shots=5, steps=3, n_tasks=50, seed=9)
    assert len(a.mean) == 4 and a == b
    tasks = eval_tasks(TaskConfig(), 5, 50, seed=9)
    assert tasks.query_x.shape == (50, 100, 1)


def test_adapt_returns_every_step():
    theta = init_params(ModelConfig(), default_generator(0))
    x = torch.tensor([[-1.0], [0.0], [2.0]])
    result = adapt(theta, x, torch.sin(x), query_grid(TaskConfig(), 50), lr=0.01, steps=4)
    assert result.predictions.shape == (5, 50)
    assert len(result.params) == 5
    assert result.support_loss[-1] < result.support_loss[0]


def test_mse_after_chosen_steps_are_those_rows_of_the_whole_curve():
    theta = init_params(ModelConfig(), default_generator(0))
    tasks = eval_tasks(TaskConfig(), 5, 20, seed=3)
    whole = mse_after_steps(theta, tasks, 0.01, 10)
    assert whole.shape == (11, 20)
    torch.testing.assert_close(mse_after_steps(theta, tasks, 0.01, 10, at=(1, 10)), whole[[1, 10]])
