"""The training controller against mock views (in the style of ndv's controller tests): what it tells the
monitor and the status line, and what it puts into the app state, for a short real run."""

from unittest.mock import MagicMock

import numpy as np
import pytest

from mamlviz.core.config import ClassificationConfig, TaskConfig, TrainConfig
from mamlviz.gui.state import AppState
from mamlviz.gui.training import TrainingController


@pytest.fixture
def controller(qtbot):
    state = AppState()
    monitor, status = MagicMock(name="monitor"), MagicMock(name="status")
    controller = TrainingController(state, monitor, status)
    yield controller
    controller.shutdown()


def _config(iterations: int = 40, algo: str = "metasgd") -> TrainConfig:
    task = TaskConfig(shots=5, queries=5)
    return TrainConfig(algo=algo, iterations=iterations, meta_batch=4, val_every=20, task=task)


def test_a_run_reaches_the_views_and_the_state(controller, qtbot):
    with qtbot.waitSignal(controller.finished, timeout=30_000):
        controller.start(_config(), "cpu")
    monitor, status, state = controller.monitor, controller.status, controller.state
    probe, steps, total, names = monitor.reset.call_args.args
    assert (steps, total, names) == (10, 40, ["metasgd", "pretrained"]) and probe is not None
    chunks = [call.args[0] for call in monitor.append.call_args_list]
    iterations = np.concatenate([chunk.iterations for chunk in chunks])
    np.testing.assert_array_equal(iterations, np.arange(1, 41))  # every iteration, once, in order
    monitor.finish.assert_called_once()
    status.ended.assert_called_with(40, 40)
    assert controller.done == 40 and not controller.running
    trained = state.inits["Meta-SGD (trained here)"]
    assert trained.iterations == 40 and trained.inner_lrs  # the learned step sizes travel with the snapshot
    assert state.primary == "Meta-SGD (trained here)"
    assert state.unsaved == {"Meta-SGD (trained here)", "Pretrained (trained here)"}
    assert set(trained.metrics["validation"]) >= {"metasgd/K5/step1"}


def test_pause_says_paused_and_stop_ends_the_run(controller, qtbot):
    with qtbot.waitSignal(controller.started, timeout=30_000):
        controller.start(_config(iterations=1_000_000, algo="maml"), "cpu")
    qtbot.waitUntil(lambda: controller.done > 0, timeout=10_000)
    controller.toggle_pause()
    assert controller.paused
    controller.status.paused.assert_called()
    with qtbot.waitSignal(controller.finished, timeout=10_000):
        controller.stop()
    assert not controller.running


def test_a_config_that_cannot_train_is_one_sentence_and_nothing_is_left_running(controller, qtbot):
    missing = ClassificationConfig(data="/nonexistent/omniglot")
    bad = TrainConfig(domain="omniglot", iterations=5, classification=missing)
    with qtbot.waitSignal(controller.failed, timeout=30_000) as failed:
        controller.start(bad, "cpu")
    title, sentence, details = failed.args
    assert title == "Cannot start training" and sentence and "\n" not in sentence
    assert "Traceback" in details
    assert not controller.running and not controller.building
    controller.monitor.reset.assert_not_called()


def test_each_snapshot_carries_its_own_learners_config(controller, qtbot):
    with qtbot.waitSignal(controller.finished, timeout=30_000):
        controller.start(_config(iterations=5, algo="maml"), "cpu")
    baseline = controller.state.inits["Pretrained (trained here)"]
    assert (baseline.algorithm, baseline.config.algo) == ("pretrained", "pretrained")  # not the run's "maml"
    assert controller.state.inits["MAML (trained here)"].config.algo == "maml"
