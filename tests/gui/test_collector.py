"""Cyclic garbage is collected on the GUI thread's timer while a window lives, never on a worker thread."""

import gc
import threading

from PySide6.QtCore import QObject, QSettings

from mamlviz.gui.collector import GuiThreadCollector
from mamlviz.gui.main_window import MainWindow


def _cycles(n: int) -> None:
    for _ in range(n):
        a: list = []
        a.append(a)


def test_collects_from_the_gui_thread_timer_and_restores_automatic_collection(qtbot):
    owner = QObject()
    collector = GuiThreadCollector(owner, interval_ms=20)
    collector.start()
    try:
        assert not gc.isenabled()
        collections = []
        gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(threading.current_thread()))
        worker = threading.Thread(target=_cycles, args=(20 * gc.get_threshold()[0],))
        worker.start()
        worker.join()
        assert not collections  # the worker's allocations started no collection
        assert gc.get_count()[0] > gc.get_threshold()[0]
        qtbot.waitUntil(lambda: gc.get_count()[0] <= gc.get_threshold()[0], timeout=2000)
        assert collections and all(thread is threading.main_thread() for thread in collections)
    finally:
        gc.callbacks.pop()
        collector.stop()
    assert gc.isenabled()


def test_the_window_collects_on_its_thread_while_open(qtbot, tmp_path):
    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    win.ask_before_closing = False
    qtbot.addWidget(win)
    assert win.collector.active and not gc.isenabled()
    win.close()
    assert gc.isenabled()
