"""A main window per test, held by the fixture so its worker thread is always stopped in teardown."""

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QSettings

from mamlviz.gui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path):
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings)
    win.ask_before_closing = False  # test_unsaved_prompt turns it on
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    yield win
    if win.worker is not None and win.worker.isRunning():
        win.worker.stop()
        assert win.worker.wait(5000), "worker thread did not stop"
    win.close()
