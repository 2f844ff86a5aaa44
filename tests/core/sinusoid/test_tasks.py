import math

import torch

from mamlviz.core.config import TaskConfig
from mamlviz.core.data import TaskBatch, default_generator
from mamlviz.core.sinusoid.tasks import query_grid, sample_task_batches, sample_tasks, sinusoid


def test_shapes_ranges_and_labels():
    cfg = TaskConfig(shots=5, queries=8)
    batch = sample_tasks(cfg, 300, default_generator(0))
    assert batch.support_x.shape == (300, 5, 1)
    assert batch.query_y.shape == (300, 8, 1)
    assert batch.amplitude.min() >= 0.1 and batch.amplitude.max() <= 5.0
    assert batch.phase.min() >= 0 and batch.phase.max() <= math.pi
    assert batch.support_x.abs().max() <= 5.0
    expected = sinusoid(batch.support_x, batch.amplitude[:, None, None], batch.phase[:, None, None])
    torch.testing.assert_close(batch.support_y, expected)


def test_same_seed_same_tasks_other_seed_other_tasks():
    cfg = TaskConfig()
    a = sample_tasks(cfg, 3, default_generator(7))
    b = sample_tasks(cfg, 3, default_generator(7))
    c = sample_tasks(cfg, 3, default_generator(8))
    assert torch.equal(a.query_y, b.query_y)
    assert not torch.equal(a.query_y, c.query_y)


def test_configurable_ranges_and_grid():
    cfg = TaskConfig(amplitude=(2.0, 2.0), phase=(0.5, 0.5), x_range=(0.0, 1.0))
    batch = sample_tasks(cfg, 4, default_generator(0))
    assert torch.allclose(batch.amplitude, torch.full((4,), 2.0))
    assert batch.support_x.min() >= 0 and batch.support_x.max() <= 1
    grid = query_grid(TaskConfig(), 100)
    assert grid.shape == (100, 1) and grid[0, 0] == -5 and grid[-1, 0] == 5


def test_batches_drawn_together_are_the_batches_drawn_one_by_one():
    cfg = TaskConfig(shots=3, queries=4)
    generator = default_generator(7)
    one_by_one = [sample_tasks(cfg, 5, generator) for _ in range(4)]
    together = sample_task_batches(cfg, 5, 4, default_generator(7))
    for alone, batch in zip(one_by_one, together, strict=True):
        for field in TaskBatch.__dataclass_fields__:
            assert torch.equal(getattr(alone, field), getattr(batch, field)), field
