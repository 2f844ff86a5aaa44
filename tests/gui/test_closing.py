"""Closing the window while background work runs: the process exits 0 (no abort from a thread left in torch)."""

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    torch.set_num_threads(1)
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from mamlviz.gui.main_window import MainWindow
    window = MainWindow(QSettings(sys.argv[2], QSettings.Format.IniFormat), seed=0)
    window.ask_before_closing = False
    window.resize(1200, 800)
    window.show()
    case = sys.argv[1]
    if case == "compare":
        window.state.set_shown(list(window.state.inits))  # every shipped initialization: seconds of evaluation
        dialog = window.compare_initializations()
        assert dialog.jobs.busy
    elif case == "omniglot":
        window.tabs.setCurrentIndex(window.classification_index)
        assert window.jobs.busy
    elif case == "training":
        window.controls.training.iterations.setValue(100_000)
        window.training.started.connect(lambda: QTimer.singleShot(200, window.close))
        window.start_training()
    if case != "training":
        QTimer.singleShot(100, window.close)
    QTimer.singleShot(60_000, lambda: sys.exit(3))  # never hang the suite
    app.exec()
    print("closed cleanly")
    """
)


@pytest.mark.parametrize("case", ["compare", "omniglot", "training"])
def test_closing_while_work_runs_exits_zero(case, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, case, str(tmp_path / "settings.ini")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "closed cleanly" in result.stdout
    assert "terminate called" not in result.stderr


INTERRUPT = textwrap.dedent(
    """
    import os, signal
    from mamlviz.gui import app

    install = app.close_on_interrupt

    def install_then_interrupt(window):  # Ctrl-C in the terminal, once the window runs
        from PySide6.QtCore import QTimer

        install(window)
        QTimer.singleShot(300, lambda: os.kill(os.getpid(), signal.SIGINT))

    app.close_on_interrupt = install_then_interrupt
    raise SystemExit(app.main([]))
    """
)


def test_ctrl_c_in_the_terminal_closes_the_window_without_a_traceback():
    result = subprocess.run([sys.executable, "-c", INTERRUPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr
