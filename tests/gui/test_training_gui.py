"""Training from the window: start, stream, pause/resume, stop, close mid-run, divergence, worker errors."""

import threading
import time

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QMessageBox

import mamlviz.core.train as train_module
from mamlviz.core.errors import TrainingDiverged
from mamlviz.gui.controls import CUDA_MISSING
from mamlviz.gui.main_window import MainWindow


def _quick(window, iterations: int = 100_000, meta_batch: int = 4) -> None:
    training = window.controls.training
    training.iterations.setValue(iterations)
    training.meta_batch.setValue(meta_batch)


def test_start_streams_losses_then_stop_finishes_the_thread(window, qtbot):
    _quick(window)
    with qtbot.waitSignal(window.training_started, timeout=2000):
        window.start_action.trigger()
    assert window.training
    assert not window.start_action.isEnabled()
    assert not window.controls.training.hidden.isEnabled()
    qtbot.waitUntil(
        lambda: (
            window.monitor.losses.series.get("maml/post", None) is not None
            and window.monitor.losses.series["maml/post"].n >= 5
        ),
        timeout=10_000,
    )
    window.monitor.losses.flush()
    x, y = window.monitor.losses.curves["maml/post"].getData()
    assert len(x) >= 5
    assert np.isfinite(y).all()
    assert "pretrained" in window.monitor.losses.curves
    assert window.status_labels["iteration"].text().startswith("it ")
    with qtbot.waitSignal(window.training_finished, timeout=3000):
        window.stop_action.trigger()
    assert window.worker.isFinished()
    assert window.start_action.isEnabled()
    iterations = window.trainer.iteration
    series = window.monitor.losses.series["maml/post"]
    np.testing.assert_array_equal(series.x[: series.n], np.arange(1, iterations + 1))  # no point lost
    assert window.init_source.startswith("trained here")
    assert set(window.playground.inits) == {"maml", "pretrained"}
    trained = window.trainer.snapshot()["maml"]
    for key, value in window.playground.inits["maml"].items():
        torch.testing.assert_close(value, trained[key])


def _legend_labels(plot) -> list[str]:
    return [label.text for _, label in plot.getPlotItem().legend.items]


def test_the_probe_shows_the_shipped_fits_before_training(window, qtbot):
    probe = window.monitor.probe
    qtbot.waitUntil(lambda: bool(probe.history), timeout=5000)  # filled in once the window shows
    assert probe.label.text() == "shipped, before training"
    assert set(probe.history[-1][1]) == {"maml", "pretrained"}
    x, y = probe.curves["maml"]["stepk"].getData()
    assert len(x) == len(probe.probe.grid) and np.isfinite(y).all()
    assert not np.allclose(y, probe.curves["maml"]["before"].getData()[1])  # it adapted
    assert "MAML 10 steps" in _legend_labels(probe.plot)


def test_training_runs_to_the_end_with_probe_history_and_validation(window, qtbot):
    _quick(window, iterations=30)
    window.controls.training.algorithm.setCurrentIndex(window.controls.training.algorithm.findData("fomaml"))
    with qtbot.waitSignal(window.training_finished, timeout=20_000):
        window.start_training()
        assert set(window.monitor.probe.curves) == {"fomaml", "pretrained"}  # made before the worker runs
    assert window.trainer.iteration == 30
    assert "fomaml/post" in window.monitor.losses.curves
    assert "fomaml/K5/step10" in window.monitor.losses.series
    probe = window.monitor.probe
    assert probe.history[-1][0] == 30
    assert set(probe.history[-1][1]) == {"fomaml", "pretrained"}
    assert probe.label.text() == "iteration 30 (live)"
    assert "MAML 10 steps" not in _legend_labels(probe.plot)  # the shipped fits made way for this run's
    assert "FO-MAML 10 steps" in _legend_labels(probe.plot)
    if len(probe.history) > 1:
        probe.slider.setValue(0)
        assert "live" not in probe.label.text()


def test_pause_and_resume(window, qtbot):
    _quick(window)
    window.start_training()
    qtbot.waitUntil(lambda: window.trainer.iteration > 2, timeout=10_000)
    chunks = []
    window.chunk_received.connect(chunks.append)
    QApplication.processEvents()  # deliver chunks emitted before the pause
    chunks.clear()
    window.pause_action.trigger()
    assert window.pause_action.text() == "Resume"
    # Pausing, the worker flushes its last iteration with a snapshot, then waits without emitting.
    qtbot.waitUntil(
        lambda: bool(chunks) and chunks[-1].snapshot is not None and chunks[-1].iteration == window.trainer.iteration,
        timeout=10_000,
    )
    paused_at = window.trainer.iteration
    with qtbot.assertNotEmitted(window.worker.chunk, wait=300):
        pass
    assert window.trainer.iteration == paused_at
    window.pause_action.trigger()
    assert window.pause_action.text() == "Pause"
    qtbot.waitUntil(lambda: window.trainer.iteration > paused_at, timeout=10_000)
    with qtbot.waitSignal(window.training_finished, timeout=3000):
        window.stop_training()


def test_closing_during_training_stops_the_worker_within_a_second(window, qtbot):
    _quick(window)
    window.start_training()
    qtbot.waitUntil(lambda: window.trainer.iteration > 2, timeout=10_000)
    worker = window.worker
    start = time.perf_counter()
    window.close()
    assert worker.isFinished()
    assert time.perf_counter() - start < 1.0


def test_reset_goes_back_to_the_shipped_initializations(window, qtbot):
    shipped = {k: v.clone() for k, v in window.playground.inits["maml"].items()}
    _quick(window, iterations=5)
    with qtbot.waitSignal(window.training_finished, timeout=10_000):
        window.start_training()
    window.reset_action.trigger()
    assert not window.monitor.losses.curves
    for key, value in window.playground.inits["maml"].items():
        torch.testing.assert_close(value, shipped[key])


def test_non_finite_loss_pauses_with_a_message_and_keeps_finite_theta(window, qtbot, monkeypatch):
    real_step = train_module.Learner.step
    failures = []

    def step(self, batch, iteration):
        if iteration == 3 and not failures:
            failures.append(iteration)
            raise TrainingDiverged(iteration, "maml training loss became non-finite at iteration 3.")
        return real_step(self, batch, iteration)

    monkeypatch.setattr(train_module.Learner, "step", step)
    _quick(window)
    with qtbot.waitSignal(window.error_shown, timeout=10_000) as blocker:
        window.start_training()
    assert "non-finite" in blocker.args[0]
    assert window.last_error.isVisible()
    assert window.training
    assert window.worker.paused
    assert window.pause_action.text() == "Resume"
    assert all(torch.isfinite(v).all() for v in window.playground.inits["maml"].values())
    assert window.trainer.iteration == 2
    window.toggle_pause()  # resume: training goes on past the bad iteration
    qtbot.waitUntil(lambda: window.trainer.iteration > 3, timeout=10_000)
    with qtbot.waitSignal(window.training_finished, timeout=3000):
        window.stop_training()


def test_an_exception_in_the_worker_shows_details_and_the_app_keeps_running(window, qtbot, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(train_module, "sample_tasks", broken)
    _quick(window)
    with qtbot.waitSignal(window.training_finished, timeout=10_000):
        window.start_training()
    assert "simulated failure" in window.last_error.text()
    assert "Traceback" in window.last_error.detailedText()
    assert window.start_action.isEnabled()
    window.playground.add_point(0.0, 1.0)
    assert len(window.playground.points) == 6


def test_invalid_settings_are_refused_with_a_message(window, qtbot):
    window.controls.training.hidden.setText("")
    window.start_training()
    assert window.worker is None
    assert "hidden sizes" in window.last_error.text()
    hidden = window.controls.training.hidden
    hidden.clear()
    qtbot.keyClicks(hidden, "40,-3,abc")
    assert hidden.text() == "40,3,"  # the validator refuses '-' and letters; the unfinished list is refused at Start
    window.start_training()
    assert window.worker is None
    assert "40,3," in window.last_error.text()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_choice_is_disabled_without_cuda(window):
    device = window.controls.training.device
    item = device.model().item(device.findData("cuda"))
    assert not item.isEnabled()
    assert device.itemData(device.findData("cuda"), Qt.ItemDataRole.ToolTipRole) == CUDA_MISSING
    assert device.currentData() == "cpu"


def test_algorithms_come_from_the_core_and_presets_fill_the_settings(window):
    from mamlviz.core.config import ALGORITHMS, TrainConfig

    combo = window.controls.training.algorithm
    listed = [combo.itemData(i) for i in range(combo.count())]
    assert listed[:2] == ["maml", "fomaml"]
    assert set(listed) <= set(ALGORITHMS) - {"pretrained"}
    window.controls.training.iterations.setValue(12)
    window.controls.training.meta_lr.setValue(0.01)
    window.controls.training.apply_preset("Paper (Finn et al. 2017)")
    config = window.controls.training.config()
    paper = TrainConfig()
    assert (config.iterations, config.meta_lr, config.meta_batch, config.inner_lr) == (
        paper.iterations,
        paper.meta_lr,
        paper.meta_batch,
        paper.inner_lr,
    )
    assert config.model.hidden == (40, 40)


def test_about_shows_versions_and_device(window):
    import PySide6

    window.about_action.trigger()
    text = window.last_about.text()
    assert PySide6.__version__ in text
    assert "PyTorch" in text
    assert "Training device: CPU" in text


def _train_a_little(window, qtbot) -> None:
    _quick(window, iterations=30)
    with qtbot.waitSignal(window.training_finished, timeout=20_000):
        window.start_training()


@pytest.mark.parametrize("answer", ["Cancel", "Discard"])
def test_closing_with_trained_unexported_weights_asks_first(window, qtbot, monkeypatch, answer):
    _train_a_little(window, qtbot)
    assert window.unsaved() == ["maml", "pretrained"]
    asked = []
    button = getattr(QMessageBox.StandardButton, answer)
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args[2]) or button)
    window.ask_before_closing = True
    assert window.close() is (answer == "Discard")
    assert "MAML, Pretrained" in asked[0]
    assert window.isVisible() is (answer == "Cancel")
    window.ask_before_closing = False  # the fixture closes it for good


def test_exporting_or_saving_a_session_means_nothing_is_asked(window, qtbot, monkeypatch, tmp_path):
    _train_a_little(window, qtbot)
    assert window.export_initialization("maml", str(tmp_path / "m.safetensors"))
    assert window.unsaved() == ["pretrained"]
    assert window.save_session(str(tmp_path / "s.json"))
    assert window.unsaved() == []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: pytest.fail("asked although nothing would be lost"))
    window.ask_before_closing = True
    assert window.close()


def test_the_warm_up_starts_once_the_first_frame_is_painted(qtbot, tmp_path):
    ran = threading.Event()
    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), warm_up=ran.set)
    win.ask_before_closing = False
    qtbot.addWidget(win)
    assert win.warm_up is None and not win.monitor.probe.history  # nothing of it runs before the window shows
    win.show()
    qtbot.waitUntil(lambda: win.warm_up is not None, timeout=5000)
    win.warm_up.join(5)
    assert ran.is_set()
    assert win.monitor.probe.label.text() == "shipped, before training"
