"""Issue #12, item 13: the Classification tab's header in Draw mode, five canvases at 1400×900, a steady layout
while the hint changes, and adaptation off the GUI thread ("Adapting…", one sentence on failure)."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from mamlviz.core.data import default_generator
from mamlviz.core.omniglot.classification import ImagePool
from mamlviz.core.omniglot.convnet import init_conv_params
from mamlviz.core.omniglot.data import OmniglotSplit
from mamlviz.core.omniglot.fewshot_demo import FewShotDemo
from mamlviz.gui.classification import ClassificationTab
from mamlviz.gui.classification.tab import DRAW_HINT

WAYS = 5
SHAPES = [
    [(20, 56), (56, 56), (92, 56)],
    [(56, 20), (56, 56), (56, 92)],
    [(20, 20), (56, 56), (92, 92)],
    [(92, 20), (56, 56), (20, 92)],
    [(20, 20), (92, 20), (92, 92)],
]


@pytest.fixture
def demo() -> FewShotDemo:
    rng = np.random.default_rng(0)
    images = (rng.random((8, 4, 28, 28)) < 0.2).astype(np.uint8) * 255
    pool = ImagePool.from_split(OmniglotSplit(images, tuple(f"A/character{i:02d}" for i in range(8))))
    generator = default_generator(0)
    inits = {"MAML": init_conv_params(8, WAYS, generator), "pretrained": init_conv_params(8, 24, generator)}
    return FewShotDemo(inits, pool, ways=WAYS, shots=1, lr=0.4)


@pytest.fixture
def tab(qtbot, demo) -> ClassificationTab:
    widget = ClassificationTab()
    qtbot.addWidget(widget)
    widget.resize(650, 700)  # the tab's width in a 1400×900 window with both docks
    widget.show()
    with qtbot.waitSignal(widget.predictions_changed, timeout=30_000):
        widget.set_demo(demo)
    return widget


def stroke(qtbot, canvas, points):
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(*points[0]))
    for point in points[1:]:
        qtbot.mouseMove(canvas, QPoint(*point))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(*points[-1]))


def _fully_visible(widget) -> bool:
    return widget.isVisible() and widget.visibleRegion().boundingRect() == widget.rect()


def test_draw_mode_does_not_name_the_sampled_task(tab, qtbot):
    assert tab.status.text().startswith("Task 1: 5-way 1-shot")
    qtbot.mouseClick(tab.draw_button, Qt.MouseButton.LeftButton)
    assert "Task" not in tab.status.text() and tab.status.text() == DRAW_HINT
    qtbot.mouseClick(tab.sampled_button, Qt.MouseButton.LeftButton)
    assert tab.status.text().startswith("Task 1: 5-way 1-shot")


def test_every_class_canvas_is_on_screen_and_the_hint_does_not_move_them(tab, qtbot):
    qtbot.mouseClick(tab.draw_button, Qt.MouseButton.LeftButton)
    qtbot.wait(20)
    assert len(tab.class_canvases) == WAYS
    for canvas in tab.class_canvases:
        assert _fully_visible(canvas), canvas.visibleRegion().boundingRect()
    assert not tab.pages.currentWidget().horizontalScrollBar().isVisible()
    where = [canvas.mapTo(tab, QPoint(0, 0)) for canvas in tab.class_canvases]
    texts = set()
    tab._keep(0)  # a short hint: one line
    texts.add(tab.status.text())
    qtbot.wait(10)
    assert [canvas.mapTo(tab, QPoint(0, 0)) for canvas in tab.class_canvases] == where
    stroke(qtbot, tab.query_canvas, SHAPES[0])  # a long hint: two lines at this width
    texts.add(tab.status.text())
    qtbot.wait(10)
    assert [canvas.mapTo(tab, QPoint(0, 0)) for canvas in tab.class_canvases] == where
    assert len(texts) == 2


def test_the_support_rows_stay_packed_at_the_top_of_their_box(tab):
    """The support box is as tall as the queries beside it; its rows must not spread over that height."""
    rows = [tab.support_grid.itemAtPosition(c, 1).widget() for c in range(WAYS)]
    assert tab.support_box.height() > 2 * WAYS * rows[0].height()  # the case this is about: a tall box
    pitch = max(b.y() - a.y() for a, b in itertools.pairwise(rows))
    assert pitch <= rows[0].height() + tab.support_grid.verticalSpacing() + 1, pitch
    assert rows[0].y() < 2 * rows[0].height()


def test_the_five_canvases_fit_a_1400x900_window(window, qtbot, tmp_path):
    with qtbot.waitSignal(window.classification_loaded, timeout=60_000):
        window.tabs.setCurrentIndex(window.classification_index)
    tab = window.classification
    qtbot.mouseClick(tab.draw_button, Qt.MouseButton.LeftButton)
    qtbot.wait(50)
    assert len(tab.class_canvases) == 5
    for canvas in tab.class_canvases:
        assert _fully_visible(canvas), canvas.visibleRegion().boundingRect()
    assert window.grab().save(str(tmp_path / "draw.png"))


def test_adaptation_runs_off_the_gui_thread_and_says_so(tab, qtbot, monkeypatch):
    real_predict = FewShotDemo.predict
    release, threads = threading.Event(), []

    def slow_predict(self, *args):
        threads.append(threading.current_thread())
        assert release.wait(20)
        return real_predict(self, *args)

    monkeypatch.setattr(FewShotDemo, "predict", slow_predict)
    qtbot.mouseClick(tab.draw_button, Qt.MouseButton.LeftButton)
    for canvas, shape in zip(tab.class_canvases, SHAPES, strict=True):
        stroke(qtbot, canvas, shape)
    stroke(qtbot, tab.query_canvas, SHAPES[1])  # returns at once: the GUI thread is free
    qtbot.waitUntil(lambda: bool(threads))
    assert threads[0] is not threading.main_thread()
    assert tab.status.text() == "Adapting…" and tab.busy
    assert not tab.drawn_predictions
    with qtbot.waitSignal(tab.predictions_changed, timeout=30_000):
        release.set()
    assert tab.status.text() == "Adapted to your drawings."
    assert tab.drawn_predictions["MAML"].shape == (4, 1, WAYS)


def test_a_failing_adaptation_is_one_sentence(tab, qtbot, monkeypatch):
    def broken(self, *args):
        raise RuntimeError("the convnet ran out of ink\nsecond line")

    monkeypatch.setattr(FewShotDemo, "predict_task", broken)
    tab.new_task()
    qtbot.waitUntil(lambda: not tab.busy, timeout=30_000)
    qtbot.waitUntil(lambda: tab.status.text().startswith("Adaptation failed"))
    assert tab.status.text() == "Adaptation failed: the convnet ran out of ink."
