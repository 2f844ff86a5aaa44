"""`AfterFirstFrame`: once after the first paint, or a second after a show that paints nothing."""

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QWidget

from mamlviz.gui.first_frame import AfterFirstFrame


def test_runs_once_after_the_first_paint(qtbot):
    widget, calls = QWidget(), []
    qtbot.addWidget(widget)
    AfterFirstFrame(widget, lambda: calls.append(1))
    assert not calls
    widget.show()
    qtbot.waitUntil(lambda: calls == [1], timeout=2000)
    widget.repaint()
    qtbot.wait(AfterFirstFrame.FALLBACK_MS + 200)  # neither later paints nor the fallback call it again
    assert calls == [1]


def test_runs_a_second_after_a_show_that_paints_nothing(qtbot):
    widget, calls = QWidget(), []
    qtbot.addWidget(widget)
    AfterFirstFrame(widget, lambda: calls.append(1))
    QCoreApplication.sendEvent(widget, QShowEvent())  # as for a window shown minimized: no paint follows
    qtbot.wait(AfterFirstFrame.FALLBACK_MS // 2)
    assert not calls
    qtbot.waitUntil(lambda: calls == [1], timeout=2000)
