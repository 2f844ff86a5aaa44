"""Issue #12, item 10: the loss plot after Reset, its log-y labels, and which trace lies on top."""

from __future__ import annotations

import itertools

import numpy as np
from PySide6.QtGui import QImage, QPainter

from mamlviz.gui.monitor import EMPTY_RANGE
from mamlviz.gui.worker import TrainingChunk


def _train_a_little(monitor, until: int = 3000) -> None:
    rng = np.random.default_rng(0)
    for start in range(0, until, 500):
        iterations = np.arange(start + 1, start + 501)
        monitor.append(
            TrainingChunk(
                int(iterations[-1]),
                iterations,
                {
                    "maml/pre": 2.5 + rng.random(500),
                    "maml/post": 0.2 + 0.1 * rng.random(500),
                    "pretrained": 2.5 + rng.random(500),
                },
                [(int(iterations[-1]), {"maml/K5/step1": 0.8, "maml/K10/step10": 0.5})],
            )
        )
    monitor.finish()


def _label_rects(axis) -> list:
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(rect, text) for rect, _, text in texts if text]


def test_reset_brings_back_the_whole_hint_and_the_first_axes(window, qtbot):
    losses = window.monitor.losses
    first = losses.plot.getPlotItem().viewRange()
    _train_a_little(window.monitor)
    assert not losses.hint.isVisible()
    assert losses.plot.getPlotItem().viewRange()[0][1] > 1000
    assert window.reset_training()
    item = losses.plot.getPlotItem()
    np.testing.assert_allclose(item.viewRange(), EMPTY_RANGE)  # not the old run's axes
    np.testing.assert_allclose(item.viewRange(), first)
    assert losses.hint.isVisible()
    hint, area = losses.hint.sceneBoundingRect(), item.vb.sceneBoundingRect()
    assert area.contains(hint), (hint, area)  # the whole hint, not "5) meta-trains here: / tion appear live"
    assert not losses.curves and losses.legend.items == []
    window.grab().save("/tmp/newcomer_after_reset.png")


def test_log_y_labels_do_not_overlap(window, qtbot):
    losses = window.monitor.losses
    axis = losses.plot.getPlotItem().getAxis("left")
    for height in (450, 260, 160):  # the dock as tall as the window, and squeezed
        losses.plot.setFixedHeight(height)
        qtbot.wait(10)
        for _ in range(2):
            labels = _label_rects(axis)
            assert len(labels) >= (2 if height > 200 else 1), labels
            rects = sorted((rect for rect, _ in labels), key=lambda r: r.top())
            for above, below in itertools.pairwise(rects):
                assert above.bottom() <= below.top() + 0.5, [text for _, text in labels]
            _train_a_little(window.monitor, 1000)


def test_pretrained_trace_does_not_hide_maml_before_adaptation(window):
    _train_a_little(window.monitor)
    curves = window.monitor.losses.curves
    assert curves["maml/pre"].zValue() > curves["pretrained"].zValue()
    assert curves["maml/post"].zValue() > curves["pretrained"].zValue()
    assert curves["pretrained"].opts["pen"].color().alpha() < 255  # what lies under it shows through


def test_the_probe_legend_stays_under_its_plot_after_reset(window, qtbot):
    probe = window.monitor.probe
    _train_a_little(window.monitor)
    assert window.reset_training()  # checked at once: a grab (--screenshot) right after showed it on the title
    legend, area = probe.legend.sceneBoundingRect(), probe.plot.getPlotItem().vb.sceneBoundingRect()
    assert probe.legend.items and legend.top() >= area.bottom() - 1, (legend, area)  # not over the title
