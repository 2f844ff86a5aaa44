"""A compiled run in the app: the status says the first iteration compiles, and pause, stop, reset and errors during
that compile behave.

Hermetic and fast: the compile rule's threshold is lowered to a few iterations, and `aot.load_or_compile` is replaced
by a stand-in whose call (the "compile") waits until the test lets it go, so every check happens while it is provably
compiling and nothing is timed.
"""

import threading
from unittest.mock import MagicMock

import pytest

import mamlviz.core.fused as fused
from mamlviz.core import aot
from mamlviz.core.config import TaskConfig, TrainConfig
from mamlviz.gui import training as training_module
from mamlviz.gui.state import AppState
from mamlviz.gui.status import COMPILE_TIME, COMPILING
from mamlviz.gui.training import COMPILE_NOTE, PAUSE_AFTER_COMPILE, STOP_AFTER_COMPILE, TrainingController

THRESHOLD = 20
"""`fused.COMPILE_PAYS_FROM` in these tests."""
APP_COMPILE = training_module.COMPILE
"""The app's choice as shipped (read at import, before any fixture pins it)."""


class GatedCompile:
    """Stands in for `aot.load_or_compile`: each program's compile blocks until `release` (or raises), then the
    program runs eagerly."""

    def __init__(self, error: Exception | None = None) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.error = error
        self.compiled = 0

    def __call__(self, module, example, identity):
        self.compiled += 1
        self.entered.set()
        assert self.release.wait(30), "the test never released the compile"
        if self.error is not None:
            raise self.error
        return lambda flat: list(module(*flat))


@pytest.fixture
def gate(monkeypatch):
    gate = GatedCompile()
    monkeypatch.setattr(fused, "COMPILE_PAYS_FROM", THRESHOLD)
    monkeypatch.setattr(aot, "load_or_compile", gate)
    monkeypatch.setattr(training_module, "COMPILE", None)  # the app's auto rule, whatever another fixture pinned
    yield gate
    gate.release.set()  # before the window's teardown waits for the worker


@pytest.fixture
def compiled_window(window, gate):
    """The window set for a compiled MAML run of 2 × THRESHOLD iterations; the gate is released before teardown."""
    training = window.controls.training
    training.algorithm.setCurrentIndex(training.algorithm.findData("maml"))
    training.iterations.setValue(2 * THRESHOLD)
    training.meta_batch.setValue(4)
    return window


def _start_compiling(window, gate, qtbot) -> None:
    with qtbot.waitSignal(window.training.started, timeout=10_000):
        window.start_training()
    assert gate.entered.wait(10), "the first iteration did not compile"
    qtbot.waitUntil(lambda: window.training.compiling, timeout=5000)


def test_the_status_says_the_first_iteration_compiles_and_then_training_goes_on(compiled_window, gate, qtbot):
    window = compiled_window
    _start_compiling(window, gate, qtbot)
    learners = window.training.worker.trainer.learners
    assert [(learner.algo, learner.fused is not None) for learner in learners] == [
        ("maml", True),
        ("pretrained", True),  # the baseline's step is compiled too
    ]
    label = window.status.labels["iteration"].text()
    assert label.startswith(f"{COMPILING} ({COMPILE_TIME})…") and f"it 0 / {2 * THRESHOLD}" in label
    assert COMPILE_TIME in window.statusBar().currentMessage()
    assert window.training.worker.compiling_now and window.training.done == 0
    with qtbot.waitSignal(window.training.finished, timeout=20_000):
        gate.release.set()
    assert window.training.done == 2 * THRESHOLD and not window.training.compiling
    assert COMPILING not in window.status.text()
    assert f"ended at it {2 * THRESHOLD}" in window.status.text()
    assert gate.compiled == 2  # one program for the whole second-order run, one for the baseline


def test_pause_during_the_compile_pauses_once_it_is_compiled(compiled_window, gate, qtbot):
    window = compiled_window
    _start_compiling(window, gate, qtbot)
    window.training.toggle_pause()
    assert window.training.paused
    assert window.statusBar().currentMessage() == PAUSE_AFTER_COMPILE
    assert window.status.labels["iteration"].text().startswith(COMPILING)  # it still compiles, and says so
    gate.release.set()
    qtbot.waitUntil(lambda: not window.training.compiling, timeout=10_000)
    qtbot.waitUntil(lambda: "paused at it 1 " in window.status.text(), timeout=10_000)
    assert window.training.done == 1 and window.training.paused
    with qtbot.waitSignal(window.training.finished, timeout=20_000):
        window.training.toggle_pause()
    assert window.training.done == 2 * THRESHOLD


def test_stop_during_the_compile_says_it_waits_for_it(compiled_window, gate, qtbot):
    window = compiled_window
    _start_compiling(window, gate, qtbot)
    window.actions.stop.trigger()
    assert window.statusBar().currentMessage() == STOP_AFTER_COMPILE
    assert window.training.running  # still compiling: it cannot be interrupted
    with qtbot.waitSignal(window.training.finished, timeout=20_000):
        gate.release.set()
    assert window.training.done == 1 and "ended at it 1 " in window.status.text()
    assert not window.training.compiling


def test_reset_during_the_compile_waits_for_it_and_says_so(compiled_window, gate, qtbot):
    window = compiled_window
    _start_compiling(window, gate, qtbot)
    worker = window.training.worker
    shown = []
    window.status.message_now = lambda text: (shown.append(text), gate.release.set())  # release once it is said
    assert window.reset_training()
    assert shown == [STOP_AFTER_COMPILE]
    assert worker.isFinished() and window.training.worker is None and not window.training.compiling
    assert window.status.labels["iteration"].text() == "Not training (F5 starts)"


def test_an_error_in_the_compile_reaches_the_user(compiled_window, gate, qtbot):
    window = compiled_window
    gate.error = RuntimeError("no C++ compiler found")
    _start_compiling(window, gate, qtbot)
    with qtbot.waitSignal(window.training.failed, timeout=10_000) as failed:
        gate.release.set()
    title, sentence, details = failed.args
    assert title == "Training failed" and "no C++ compiler found" in sentence and "Traceback" in details
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=5000)
    assert window.last_error.text() == sentence  # the window's own error box, as for any training error
    # the thread's `finished`, which ends the compile's count, is delivered after `running` turns False
    qtbot.waitUntil(lambda: not window.training.running and not window.training.compiling, timeout=10_000)
    assert COMPILING not in window.status.text()


def _config(iterations: int, **changes) -> TrainConfig:
    task = TaskConfig(shots=5, queries=5)
    return TrainConfig(algo="maml", iterations=iterations, meta_batch=4, val_every=10, task=task, **changes)


@pytest.mark.parametrize("iterations", [THRESHOLD - 1, THRESHOLD])
def test_the_app_follows_the_compile_rule_of_mamlviz_train(qtbot, gate, iterations):
    """Below the threshold nothing compiles and nothing says so; from it, it does (the app's `Trainer` gets None)."""
    assert APP_COMPILE is None  # `mamlviz train --compile auto`
    gate.release.set()
    controller = TrainingController(AppState(), MagicMock(name="monitor"), MagicMock(name="status"))
    try:
        with qtbot.waitSignal(controller.finished, timeout=20_000):
            controller.start(_config(iterations), "cpu")
        assert controller.status.compiling.called == (iterations >= THRESHOLD)
        assert gate.compiled == (2 if iterations >= THRESHOLD else 0)  # MAML and the baseline beside it
        controller.status.ended.assert_called_with(iterations, iterations)
    finally:
        controller.shutdown()


def test_the_second_order_program_compiles_later_and_says_so_too(qtbot, gate):
    """MAML++'s first-order start: one compile at iteration 1, another when it turns second order."""
    gate.release.set()
    controller = TrainingController(AppState(), MagicMock(name="monitor"), MagicMock(name="status"))
    try:
        with qtbot.waitSignal(controller.finished, timeout=20_000):
            controller.start(_config(THRESHOLD, first_order_until=5), "cpu")
        said = [call.args[0] for call in controller.status.message.call_args_list]
        assert said.count(COMPILE_NOTE) == 2
        assert {program[-1] for program in controller.worker.trainer.learners[0].fused.loaded} == {True, False}
        controller.status.ended.assert_called_with(THRESHOLD, THRESHOLD)
    finally:
        controller.shutdown()
