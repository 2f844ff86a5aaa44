"""Training from the window: start, stream, pause/resume, stop, close mid-run, divergence, worker errors."""

import threading
from unittest.mock import patch

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QMessageBox

import mamlviz.core.sinusoid.domain as sinusoid_domain
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
    with qtbot.waitSignal(window.training.started, timeout=2000):
        window.actions.start.trigger()
    assert window.training.running
    assert not window.actions.start.isEnabled()
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
    assert window.status.labels["iteration"].text().startswith("it ")
    with qtbot.waitSignal(window.training.finished, timeout=3000):
        window.actions.stop.trigger()
    assert window.training.worker.isFinished()
    assert window.actions.start.isEnabled()
    iterations = window.training.done
    series = window.monitor.losses.series["maml/post"]
    np.testing.assert_array_equal(series.x[: series.n], np.arange(1, iterations + 1))  # no point lost
    assert window.state.source.startswith("trained here")
    assert f"Init: trained here ({iterations:,} it)" in window.status.text()  # the last snapshot's, not a stale one
    assert f"ended at it {iterations:,}" in window.status.text()
    shown = window.state.shown_params("sinusoid")
    assert set(shown) == {"maml", "pretrained", "MAML (trained here)", "Pretrained (trained here)"}  # own rows
    trained = window.training.worker.trainer.snapshot()["maml"]  # the worker has ended: its trainer is free
    for key, value in shown["MAML (trained here)"].items():
        torch.testing.assert_close(value, trained[key])
    assert window.state.primary == "MAML (trained here)"
    first = next(iter(trained))
    assert not torch.equal(shown["maml"][first], trained[first])  # the shipped row is intact


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
    with qtbot.waitSignal(window.training.finished, timeout=20_000):
        with qtbot.waitSignal(window.training.started, timeout=10_000):
            window.start_training()
        assert set(window.monitor.probe.curves) == {"fomaml", "pretrained"}  # made before the worker runs
    assert window.training.done == 30
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
    qtbot.waitUntil(lambda: window.training.done > 2, timeout=10_000)
    chunks = []
    window.training.chunk_received.connect(chunks.append)
    QApplication.processEvents()  # deliver chunks emitted before the pause
    chunks.clear()
    window.actions.pause.trigger()
    assert window.actions.pause.text() == "Resume"
    # Pausing, the worker flushes its last iteration with a snapshot, then waits without emitting.
    qtbot.waitUntil(
        lambda: bool(chunks) and chunks[-1].snapshot is not None and chunks[-1].iteration == window.training.done,
        timeout=10_000,
    )
    paused_at = window.training.done
    with qtbot.assertNotEmitted(window.training.worker.chunk, wait=300):
        pass
    assert window.training.done == paused_at
    window.actions.pause.trigger()
    assert window.actions.pause.text() == "Pause"
    qtbot.waitUntil(lambda: window.training.done > paused_at, timeout=10_000)
    with qtbot.waitSignal(window.training.finished, timeout=3000):
        window.training.stop()


def test_closing_during_training_stops_the_worker(window, qtbot):
    """How long closing takes is measured by benchmarks/bench_refusals.py, not here."""
    _quick(window)
    window.start_training()
    qtbot.waitUntil(lambda: window.training.done > 2, timeout=10_000)
    worker = window.training.worker
    window.close()
    assert worker.isFinished()


def test_reset_goes_back_to_the_shipped_initializations(window, qtbot):
    shipped = {k: v.clone() for k, v in window.state.shown_params("sinusoid")["maml"].items()}
    _quick(window, iterations=5)
    with qtbot.waitSignal(window.training.finished, timeout=10_000):
        window.start_training()
    window.state.set_shown([*window.state.shown, "reptile"])
    window.ask_before_closing = True
    with patch.object(QMessageBox, "question", return_value=QMessageBox.StandardButton.Cancel) as asked:
        window.actions.reset.trigger()
    asked.assert_called_once()
    assert "MAML (trained here)" in window.state.inits  # Cancel keeps what was trained
    with patch.object(QMessageBox, "question", return_value=QMessageBox.StandardButton.Discard):
        window.actions.reset.trigger()
    assert not window.monitor.losses.curves
    assert window.state.shown == ["maml", "pretrained", "reptile"]  # the ticks stay
    assert "Not training" in window.status.text()
    for key, value in window.state.shown_params("sinusoid")["maml"].items():
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
    assert window.training.running
    assert window.training.worker.paused
    assert window.actions.pause.text() == "Resume"
    qtbot.waitUntil(lambda: window.training.done == 2, timeout=5000)  # the pause's chunk follows the message
    trained = window.state.inits["MAML (trained here)"]
    assert trained.iterations == 2 and all(torch.isfinite(v).all() for v in trained.params.values())
    window.training.toggle_pause()  # resume: training goes on past the bad iteration
    qtbot.waitUntil(lambda: window.training.done > 3, timeout=10_000)
    with qtbot.waitSignal(window.training.finished, timeout=3000):
        window.training.stop()


def test_an_exception_in_the_worker_shows_details_and_the_app_keeps_running(window, qtbot, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(sinusoid_domain, "sample_task_batches", broken)
    _quick(window)
    with qtbot.waitSignal(window.training.finished, timeout=10_000):
        window.start_training()
    assert "simulated failure" in window.last_error.text()
    assert "Traceback" in window.last_error.detailedText()
    assert window.actions.start.isEnabled()
    window.state.add_point(0.0, 1.0)
    assert len(window.state.points) == 6


def test_invalid_settings_are_refused_with_a_message(window, qtbot):
    window.controls.training.hidden.setText("")
    window.start_training()
    assert window.training.worker is None
    assert "hidden sizes" in window.last_error.text()
    hidden = window.controls.training.hidden
    hidden.clear()
    qtbot.keyClicks(hidden, "40,-3,abc")
    assert hidden.text() == "40,3,"  # the validator refuses '-' and letters; the unfinished list is refused at Start
    window.start_training()
    assert window.training.worker is None
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

    window.actions.about.trigger()
    text = window.last_about.text()
    assert PySide6.__version__ in text
    assert "PyTorch" in text
    assert "Training device: CPU" in text


def _train_a_little(window, qtbot) -> None:
    _quick(window, iterations=30)
    with qtbot.waitSignal(window.training.finished, timeout=20_000):
        window.start_training()


@pytest.mark.parametrize("answer", ["Cancel", "Discard"])
def test_closing_with_trained_unexported_weights_asks_first(window, qtbot, monkeypatch, answer):
    _train_a_little(window, qtbot)
    assert window.unsaved() == ["MAML (trained here)", "Pretrained (trained here)"]
    asked = []
    button = getattr(QMessageBox.StandardButton, answer)
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args[2]) or button)
    window.ask_before_closing = True
    assert window.close() is (answer == "Discard")
    assert "MAML (trained here), Pretrained (trained here)" in asked[0]
    assert window.isVisible() is (answer == "Cancel")
    window.ask_before_closing = False  # the fixture closes it for good


def test_exporting_or_saving_a_session_means_nothing_is_asked(window, qtbot, monkeypatch, tmp_path):
    _train_a_little(window, qtbot)
    assert window.files.export_initialization(path=str(tmp_path / "m.safetensors"))  # the primary: trained MAML
    assert window.unsaved() == ["Pretrained (trained here)"]
    assert window.files.save_session(str(tmp_path / "s.json"))
    assert window.unsaved() == []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: pytest.fail("asked although nothing would be lost"))
    window.ask_before_closing = True
    assert window.close()


def test_the_warm_up_starts_once_the_first_frame_is_painted(qtbot, tmp_path):
    ran = threading.Event()
    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), warm_up=ran.set)
    win.ask_before_closing = False
    qtbot.addWidget(win)
    assert not ran.is_set() and not win.monitor.probe.history  # nothing of it runs before the window shows
    win.show()
    qtbot.waitUntil(ran.is_set, timeout=5000)
    assert win.monitor.probe.label.text() == "shipped, before training"
