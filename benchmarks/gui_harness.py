"""Shared setup of the GUI benchmarks: offscreen Qt, one torch thread, a 1400×900 main window."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's mamlviz, not an installed one

import torch

torch.set_num_threads(1)


ANTIALIAS = os.environ.get("AA", "1") == "1"


def make_window():
    """A shown main window with throw-away settings, as a user sees it at 1400×900."""
    import pyqtgraph as pg
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from mamlviz.gui.app import warm_up_torch
    from mamlviz.gui.main_window import MainWindow

    warm_up_torch()
    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(antialias=ANTIALIAS, background="w", foreground="k")
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.ask_before_closing = False
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    return app, window
