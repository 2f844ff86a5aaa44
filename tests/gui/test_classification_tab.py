"""The Classification tab offscreen: a sampled task renders with both learners' answers, and mouse
strokes on the canvases make a task the models adapt to."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from mamlviz.core.data import default_generator
from mamlviz.core.omniglot.classification import ImagePool
from mamlviz.core.omniglot.convnet import init_conv_params
from mamlviz.core.omniglot.data import OmniglotSplit
from mamlviz.core.omniglot.fewshot_demo import FewShotDemo
from mamlviz.core.omniglot.metric_demo import ClassifierDemo
from mamlviz.gui.classification import ClassificationTab
from tests.core.omniglot.fixtures import make_omniglot, save_classifier

WAYS = 3


@pytest.fixture
def demo() -> FewShotDemo:
    rng = np.random.default_rng(0)
    images = (rng.random((6, 4, 28, 28)) < 0.2).astype(np.uint8) * 255
    pool = ImagePool.from_split(OmniglotSplit(images, tuple(f"A/character{i:02d}" for i in range(6))))
    generator = default_generator(0)
    inits = {"MAML": init_conv_params(8, WAYS, generator), "pretrained": init_conv_params(8, 24, generator)}
    return FewShotDemo(inits, pool, ways=WAYS, shots=2, lr=0.4)


@pytest.fixture
def tab(qtbot, demo) -> ClassificationTab:
    widget = ClassificationTab()
    qtbot.addWidget(widget)
    widget.resize(1100, 650)
    widget.show()
    with qtbot.waitSignal(widget.predictions_changed):
        widget.set_demo(demo)
    return widget


def test_sampled_task_renders_support_queries_and_both_answers(tab, qtbot, tmp_path):
    assert tab.support_grid.count() == WAYS * (1 + 2)  # a label and 2 drawings per class
    assert len(tab.query_results) == WAYS
    for result in tab.query_results:
        for name in ("MAML", "pretrained"):
            assert result.answers[name].text().startswith(f"{name}: class ")
            assert result.answers[name].text()[-1] in "✓✗"
    assert tab.predictions["MAML"].shape == (4, WAYS, WAYS)
    np.testing.assert_allclose(tab.predictions["pretrained"].sum(-1), 1.0, rtol=1e-5)
    before = tab.query_results[0].answers["pretrained"].text()
    tab.step_slider.setValue(0)
    assert tab.step_label.text() == "before adaptation"
    assert tab.query_results[0].answers["pretrained"].text().startswith("pretrained: class 1 (33%)"), before
    with qtbot.waitSignal(tab.predictions_changed):
        qtbot.mouseClick(tab.new_task_button, Qt.MouseButton.LeftButton)
    assert tab.seed == 2
    assert tab.grab().save(str(tmp_path / "sampled.png"))


def test_queries_wrap_to_the_width_instead_of_scrolling_sideways(tab, qtbot):
    scroll = tab.pages.currentWidget()
    qtbot.waitUntil(lambda: len({result.y() for result in tab.query_results}) == 1)  # 1100 px: one row
    tab.resize(560, 650)
    qtbot.waitUntil(lambda: len({result.y() for result in tab.query_results}) > 1)
    assert not scroll.horizontalScrollBar().isVisible()
    assert all(result.isVisible() for result in tab.query_results)


def stroke(qtbot, canvas, points):
    """A mouse stroke through `points`, given on a 112-pixel canvas and scaled to this one's size."""
    scale = canvas.width() / 112
    points = [QPoint(round(x * scale), round(y * scale)) for x, y in points]
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=points[0])
    for point in points[1:]:
        qtbot.mouseMove(canvas, point)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=points[-1])


SHAPES = [
    [(20, 56), (56, 56), (92, 56)],  # horizontal bar
    [(56, 20), (56, 56), (56, 92)],  # vertical bar
    [(20, 20), (56, 56), (92, 92)],  # diagonal
]


def test_drawn_strokes_make_a_task_the_models_adapt_to(tab, qtbot):
    qtbot.mouseClick(tab.draw_button, Qt.MouseButton.LeftButton)
    assert tab.pages.currentIndex() == 1
    for canvas, shape in zip(tab.class_canvases, SHAPES, strict=True):
        stroke(qtbot, canvas, shape)
    image = tab.class_canvases[0].image()
    assert image.shape == (28, 28)
    assert image[14].max() > 0.5, "the horizontal stroke is in the middle row"
    assert image[3].max() == 0
    assert "query" in tab.status.text()
    with qtbot.waitSignal(tab.predictions_changed):
        stroke(qtbot, tab.query_canvas, SHAPES[1])
    probabilities = tab.drawn_predictions["MAML"]
    assert probabilities.shape == (4, 1, WAYS)
    assert tab.drawn_result.answers["MAML"].text().startswith("MAML: class ")
    assert not np.allclose(probabilities[0], probabilities[-1]), "adaptation changed the answer's probabilities"


def test_keep_adds_examples_and_empty_canvas_is_one_sentence(tab, qtbot):
    qtbot.mouseClick(tab.draw_button, Qt.MouseButton.LeftButton)
    tab._keep(0)
    assert tab.status.text() == "The canvas of class 1 is empty: draw something first."
    stroke(qtbot, tab.class_canvases[0], SHAPES[0])
    tab._keep(0)
    assert tab.class_canvases[0].is_empty()
    assert tab.kept_labels[0].text() == "1 kept"
    assert tab.kept_rows[0].count() == 1, "the kept drawing is shown as a thumbnail"
    qtbot.mouseClick(tab.class_canvases[0], Qt.MouseButton.RightButton)
    stroke(qtbot, tab.query_canvas, SHAPES[2])
    assert tab.status.text().endswith("Missing: class 2.")


def test_files_of_different_splits_say_where_their_tasks_come_from(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))
    # 12 + 12 characters: 4 of the evaluation archive are among the paper split's 6 meta-test ones
    data = make_omniglot(tmp_path / "omniglot", alphabets=2, characters=6, drawers=4, distinct=True)
    paths = {
        "MAML": save_classifier(tmp_path / "paper.safetensors", "paper", WAYS),
        "pretrained": save_classifier(tmp_path / "alphabets.safetensors", "alphabets", WAYS),
    }
    widget = ClassificationTab()
    qtbot.addWidget(widget)
    widget.show()
    with qtbot.waitSignal(widget.predictions_changed):
        widget.set_demo(ClassifierDemo.from_files(paths, data))
    assert widget.status.text() == "Task 1: 3-way 1-shot from the 4 characters none of these learners trained on."
