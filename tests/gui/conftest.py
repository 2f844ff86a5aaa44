"""A main window per test, held by the fixture so its worker thread is always stopped in teardown.

QSettings' user-scope folders are pointed into the private test home as well (Qt may have read
XDG_CONFIG_HOME before the environment changed, e.g. when a plugin loaded early).
"""

from collections.abc import Iterator
from pathlib import Path

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QSettings

from mamlviz.gui import training
from mamlviz.gui.main_window import MainWindow


@pytest.fixture(scope="session", autouse=True)
def private_settings(private_home: Path) -> None:
    """User-scope QSettings (native and INI format) live under the private test home."""
    for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(settings_format, QSettings.Scope.UserScope, str(private_home / ".config"))


@pytest.fixture(autouse=True)
def eager_training(monkeypatch) -> None:
    """The app's runs step eagerly in tests: a compile takes seconds (tests/gui/test_training_compile.py
    exercises the compiled path with a stand-in for torch.compile)."""
    monkeypatch.setattr(training, "COMPILE", False)


@pytest.fixture
def window(qtbot, tmp_path) -> Iterator[MainWindow]:
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings, seed=0)
    win.ask_before_closing = False  # test_unsaved_prompt turns it on
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    yield win
    worker = win.training.worker
    if worker is not None and worker.isRunning():
        worker.stop()
        assert worker.wait(5000), "worker thread did not stop"
    win.close()
