"""What a newcomer meets in the first minutes (issue #12): keys that work at once, a fresh task with fresh points,
a status line that never goes stale, training that waits while the window asks, and the Help menu."""

import numpy as np
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from mamlviz.gui.main_window import MainWindow


def _quick(window, iterations: int) -> None:
    window.controls.training.iterations.setValue(iterations)
    window.controls.training.meta_batch.setValue(4)


def test_r_and_s_work_before_the_plot_was_ever_clicked(window, qtbot):
    window.controls.compare.list.setFocus()  # the focus anywhere but a text field
    before = window.state.truth
    QTest.keyClick(window.controls.compare.list, Qt.Key.Key_R)
    assert window.state.truth != before
    window.controls.task.shots.setValue(7)
    window.tabs.setFocus()
    QTest.keyClick(window.tabs, Qt.Key.Key_S)
    assert len(window.state.points) == 7


def test_a_random_task_comes_with_fresh_points_on_its_curve(window):
    window.actions.random.trigger()
    x, y = window.state.points.T
    np.testing.assert_allclose(y, window.state.truth(x), atol=1e-9)  # none left on the old curve
    assert len(x) == window.controls.task.shots.value()


def test_the_start_up_task_is_drawn_not_fixed(qtbot, tmp_path):
    truths = set()
    for seed in (1, 2):
        win = MainWindow(QSettings(str(tmp_path / f"{seed}.ini"), QSettings.Format.IniFormat), seed=seed)
        qtbot.addWidget(win)
        win.ask_before_closing = False
        truths.add(win.state.truth)
        win.close()
    assert len(truths) == 2


def test_the_status_line_says_what_training_is_doing(window, qtbot):
    assert "Not training" in window.status.text() and "it 0 / 0" not in window.status.text()
    _quick(window, 1_000_000)
    with qtbot.waitSignal(window.training.started, timeout=20_000):
        window.start_training()
    qtbot.waitUntil(lambda: "it/s" in window.status.text(), timeout=10_000)
    window.actions.pause.trigger()
    qtbot.waitUntil(lambda: f"paused at it {window.training.done:,} /" in window.status.text(), timeout=5000)
    qtbot.waitUntil(lambda: f"({window.training.done:,} it)" in window.status.text(), timeout=5000)
    assert f"paused at it {window.training.done:,} /" in window.status.text()  # the same iteration as the snapshot
    assert "it/s" not in window.status.text() and "ETA" not in window.status.text()
    window.actions.pause.trigger()
    with qtbot.waitSignal(window.training.finished, timeout=5000):
        window.actions.stop.trigger()
    assert "ended at it" in window.status.text() and "it/s" not in window.status.text()


def test_closing_while_training_pauses_it_while_asking_and_cancel_resumes(window, qtbot, monkeypatch):
    _quick(window, 1_000_000)
    with qtbot.waitSignal(window.training.started, timeout=20_000):
        window.start_training()
    qtbot.waitUntil(lambda: bool(window.state.unsaved), timeout=20_000)  # a snapshot was taken
    seen = []

    def ask(*args):
        seen.append(window.training.paused)
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "question", ask)
    window.ask_before_closing = True
    assert not window.close()
    assert seen == [True]  # no training behind the dialog
    assert window.training.running and not window.training.paused  # Cancel: it goes on
    window.ask_before_closing = False


def test_help_lists_the_keyboard_shortcuts(window):
    window.actions.shortcuts.trigger()
    text = window.actions.last_box.text()
    for keys in ("F5", "Ctrl+T", "Ctrl+I", "R", "S", "Space"):
        assert f"<b>{keys}</b>" in text
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert [a.text() for a in help_menu.actions() if a.text()] == [
        "Keyboard shortcuts",
        "User guide (README)",
        "About mamlviz",
    ]
