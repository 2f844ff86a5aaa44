"""ProtoNet beside MAML in the Classification tab, offscreen: its answer per query on a sampled task and on drawn
characters, the embedding view (points, prototypes, MAML's features before/after), and live training from the
window adding "ProtoNet (trained here)" to the tab."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, QSize, Qt

from mamlviz.core.data import default_generator
from mamlviz.core.omniglot.classification import ImagePool
from mamlviz.core.omniglot.convnet import init_conv_params
from mamlviz.core.omniglot.data import OmniglotSplit
from mamlviz.core.omniglot.metric import init_embedding_params
from mamlviz.core.omniglot.metric_demo import ClassifierDemo
from mamlviz.gui.classification import ClassificationTab
from mamlviz.gui.controls import OMNIGLOT_PAPER
from tests.core.omniglot.fixtures import make_omniglot
from tests.gui.test_classification_tab import SHAPES, stroke

WAYS, SHOTS = 3, 2


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))


def small_demo(shots: int = SHOTS) -> ClassifierDemo:
    rng = np.random.default_rng(0)
    images = (rng.random((6, 4, 28, 28)) < 0.2).astype(np.uint8) * 255
    pool = ImagePool.from_split(OmniglotSplit(images, tuple(f"A/character{i:02d}" for i in range(6))))
    generator = default_generator(0)
    inits = {
        "MAML": init_conv_params(8, WAYS, generator),
        "pretrained": init_conv_params(8, 24, generator),
        "ProtoNet": init_embedding_params(8, generator),
    }
    return ClassifierDemo(inits, pool, ways=WAYS, shots=shots, lr=0.4, rules={"ProtoNet": "protonet"})


@pytest.fixture
def tab(qtbot) -> ClassificationTab:
    widget = ClassificationTab()
    qtbot.addWidget(widget)
    widget.resize(1200, 900)
    widget.show()
    with qtbot.waitSignal(widget.predictions_changed, timeout=30_000):
        widget.set_demo(small_demo())
    return widget


def test_protonet_answers_every_query_of_a_sampled_task_in_its_own_colour(tab):
    assert len(tab.query_results) == WAYS
    for result in tab.query_results:
        assert list(result.answers) == ["MAML", "pretrained", "ProtoNet"]
        for name in result.answers:
            assert result.answers[name].text().startswith(f"{name}: class ")
            assert result.answers[name].text()[-1] in "✓✗"
    colours = {result.answers[name].styleSheet() for result in tab.query_results[:1] for name in result.answers}
    assert len(colours) == 3, "each learner has its own colour"
    probabilities = tab.predictions["ProtoNet"]
    assert probabilities.shape == (4, WAYS, WAYS)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(probabilities[0], probabilities[-1])  # no steps: the same after any
    before = tab.query_results[0].answers["ProtoNet"].text()
    tab.step_slider.setValue(0)
    assert tab.query_results[0].answers["ProtoNet"].text() == before


def test_embedding_view_has_a_point_per_drawing_and_a_prototype_per_class(tab, qtbot):
    panel = tab.embedding
    assert panel.metric_plot.chooser.currentText() == "ProtoNet"
    assert panel.sgd_plot.chooser.currentText() == "MAML"
    for plot in (panel.metric_plot, panel.sgd_plot):
        assert len(plot.support.data) == WAYS * SHOTS
        assert len(plot.queries.data) == WAYS
        assert len(plot.prototypes.data) == WAYS
        assert len(plot.labels) == WAYS  # the class numbers beside the stars
    after = np.array(panel.sgd_plot.support.getData()).T.copy()
    qtbot.mouseClick(panel.before_button, Qt.MouseButton.LeftButton)
    before = np.array(panel.sgd_plot.support.getData()).T
    assert before.shape == after.shape and not np.allclose(before, after), "the inner steps moved the features"
    assert "before adaptation" in panel.sgd_plot.plot.getPlotItem().titleLabel.text
    first = np.array(panel.metric_plot.support.getData()).T.copy()
    with qtbot.waitSignal(tab.predictions_changed, timeout=30_000):
        qtbot.mouseClick(tab.new_task_button, Qt.MouseButton.LeftButton)
    assert not np.allclose(np.array(panel.metric_plot.support.getData()).T, first), "a new task, a new view"
    assert tab.support_grid.count() == WAYS * (1 + SHOTS), "the old task's thumbnails are gone"


def test_drawn_characters_get_a_protonet_answer_and_move_the_embedding(tab, qtbot):
    qtbot.mouseClick(tab.draw_button, Qt.MouseButton.LeftButton)
    for canvas, shape in zip(tab.class_canvases, SHAPES, strict=True):
        stroke(qtbot, canvas, shape)
    with qtbot.waitSignal(tab.predictions_changed, timeout=30_000):
        stroke(qtbot, tab.query_canvas, SHAPES[1])
    assert tab.drawn_predictions["ProtoNet"].shape == (4, 1, WAYS)
    assert tab.drawn_result.answers["ProtoNet"].text().startswith("ProtoNet: class ")
    panel = tab.embedding
    assert len(panel.metric_plot.support.data) == WAYS and len(panel.metric_plot.queries.data) == 1
    assert len(panel.metric_plot.prototypes.data) == WAYS
    tab._keep(0)
    with qtbot.waitSignal(tab.predictions_changed, timeout=30_000):
        stroke(qtbot, tab.class_canvases[0], SHAPES[2])  # a second example of class 1
    assert len(panel.metric_plot.support.data) == WAYS + 1


def _set_up_metric_training(window, tmp_path, algo: str, iterations: int) -> None:
    """Choose a metric learner in the window's training controls, on a tiny archive, with the tab shown."""
    training = window.controls.training
    training.set_config(OMNIGLOT_PAPER)
    algorithms = [training.algorithm.itemData(i) for i in range(training.algorithm.count())]
    assert algorithms == ["maml", "fomaml", "protonet", "matchingnet"]
    training.algorithm.setCurrentIndex(algorithms.index(algo))
    assert training.config().algo == algo
    training.ways.setValue(WAYS)
    training.meta_batch.setValue(2)
    training.iterations.setValue(iterations)
    training.data.setText(str(make_omniglot(tmp_path / "omniglot", characters=3)))
    window.classification.set_demo(small_demo(shots=1))
    window.tabs.setCurrentIndex(window.classification_index)


def test_training_a_protonet_from_the_window_adds_it_to_the_tab(window, qtbot, tmp_path):
    _set_up_metric_training(window, tmp_path, "protonet", 2)
    with qtbot.waitSignal(window.training.finished, timeout=90_000):
        window.actions.start.trigger()
    tab = window.classification
    assert tab.demo.rules["ProtoNet (trained here)"] == "protonet"
    assert "Pretrained (trained here)" not in tab.demo.rules  # the baseline trained alongside adapts by SGD
    qtbot.waitUntil(lambda: not tab.busy and "ProtoNet (trained here)" in tab.predictions, timeout=30_000)
    answer = tab.query_results[0].answers["ProtoNet (trained here)"].text()
    assert answer.startswith("ProtoNet (trained here): class ")
    assert "ProtoNet (trained here)" in [
        tab.embedding.metric_plot.chooser.itemText(i) for i in range(tab.embedding.metric_plot.chooser.count())
    ]


def test_training_a_matching_net_from_the_window_streams_to_the_monitor_and_answers_in_the_tab(window, qtbot, tmp_path):
    _set_up_metric_training(window, tmp_path, "matchingnet", 3)
    with qtbot.waitSignal(window.training.started, timeout=30_000):
        window.actions.start.trigger()
    with qtbot.waitSignal(window.training.finished, timeout=90_000):
        pass
    assert window.training.done == 3
    series = window.monitor.losses.series
    trained = [key for key in series if key.startswith("matchingnet/")]
    assert trained, f"the monitor has no Matching Net curve: {sorted(series)}"
    assert any(series[key].n > 0 and np.isfinite(series[key].y[: series[key].n]).all() for key in trained)
    tab = window.classification
    name = "Matching Net (trained here)"
    assert tab.demo.rules[name] == "matchingnet"
    qtbot.waitUntil(lambda: not tab.busy and name in tab.predictions, timeout=30_000)
    probabilities = tab.predictions[name]
    assert probabilities.shape == (4, WAYS, WAYS)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(probabilities[0], probabilities[-1])  # it takes no steps
    for result in tab.query_results:
        assert name in result.answers
        assert result.answers[name].text().startswith(f"{name}: class ")
        assert result.answers[name].text()[-1] in "✓✗"
        assert result.bars[name].after is not None
    choices = [tab.embedding.metric_plot.chooser.itemText(i) for i in range(tab.embedding.metric_plot.chooser.count())]
    assert name in choices


def _fully_shown(widget, window) -> bool:
    """Shown and whole: inside each widget above it up to the window (a scroll area's viewport clips what is
    scrolled away), so inside the window too."""
    if not widget.isVisible():
        return False
    parent = widget.parentWidget()
    while parent is not None:
        if not parent.rect().contains(QRect(widget.mapTo(parent, QPoint(0, 0)), widget.size())):
            return False
        if parent is window:
            return True
        parent = parent.parentWidget()
    return False


def test_at_1400_by_900_the_canvases_every_answer_and_the_embedding_view_are_on_screen(window, qtbot):
    assert window.size() == QSize(1400, 900)
    tab = window.classification
    window.tabs.setCurrentIndex(window.classification_index)
    with qtbot.waitSignal(tab.predictions_changed, timeout=30_000):
        tab.set_demo(small_demo(shots=1))
    qtbot.waitUntil(lambda: not tab.busy)
    qtbot.waitUntil(lambda: _fully_shown(tab.embedding_box, window))
    assert _fully_shown(tab.embedding.metric_plot.plot, window) and _fully_shown(tab.embedding.sgd_plot.plot, window)
    qtbot.mouseClick(tab.draw_button, Qt.MouseButton.LeftButton)
    for canvas, shape in zip(tab.class_canvases, SHAPES, strict=True):
        stroke(qtbot, canvas, shape)
    with qtbot.waitSignal(tab.predictions_changed, timeout=30_000):
        stroke(qtbot, tab.query_canvas, SHAPES[1])
    qtbot.waitUntil(lambda: not tab.busy)
    shown = {
        "embedding view": tab.embedding_box,
        "query canvas": tab.query_canvas,
        **{f"class {c + 1} canvas": canvas for c, canvas in enumerate(tab.class_canvases)},
        **{f"{name}'s bars": bars for name, bars in tab.drawn_result.bars.items()},
        **{f"{name}'s answer": label for name, label in tab.drawn_result.answers.items()},
    }
    assert list(tab.drawn_result.bars) == ["MAML", "pretrained", "ProtoNet"]
    hidden = [what for what, widget in shown.items() if not _fully_shown(widget, window)]
    assert not hidden, f"cut off or scrolled away at 1400×900: {hidden}"
    assert len(tab.embedding.metric_plot.support.data) == WAYS, "the embedding view shows the drawn task"


def test_a_maml_file_of_another_number_of_ways_is_named_in_the_header_not_silently_zeroed(tab, qtbot):
    twenty_way = init_conv_params(8, 20, default_generator(1))
    with qtbot.waitSignal(tab.predictions_changed, timeout=30_000):
        tab.set_init("MAML (file)", twenty_way, "maml")
    assert tab.predictions["MAML (file)"].shape == (4, WAYS, WAYS)
    assert (
        f"MAML (file) was meta-trained for 20-way tasks: on {WAYS}-way ones its head starts at zero."
        in tab.status.text()
    )
    assert "pretrained" not in tab.head_notes  # its 24-way head is replaced on purpose
    with qtbot.waitSignal(tab.predictions_changed, timeout=30_000):
        tab.set_init("MAML (file)", init_conv_params(8, WAYS, default_generator(1)), "maml")
    assert "meta-trained for" not in tab.status.text()
