"""The Classification tab's embedding view: a 2-D PCA of one task's support and query embeddings.

Left, a metric learner's embedding (ProtoNet, Matching Net) with its prototypes, the class means the ProtoNet
compares against. Right, an SGD learner's (MAML's, the pretrained net's) penultimate features before and after
k adaptation steps, both in the axes of the step-0 features, so the toggle shows what the inner steps moved.
`task_views` computes them (off the GUI thread); `EmbeddingPanel.set_views` draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from mamlviz.core.omniglot.fewshot_demo import FewShotDemo
from mamlviz.core.omniglot.metric_demo import EmbeddingView

SIDE_BY_SIDE = 500
"""The panel's width from which the two views sit side by side (narrower: one above the other)."""
KEY = "● support drawing   ▲ query (its true class's colour; grey if unknown)   ★ prototype = class mean"


@dataclass
class TaskViews:
    """One task's views: per metric learner one view; per SGD learner (before, after `steps` steps)."""

    steps: int
    query_labels: np.ndarray
    metric: dict[str, EmbeddingView] = field(default_factory=dict)
    sgd: dict[str, tuple[EmbeddingView, EmbeddingView]] = field(default_factory=dict)


def task_views(
    demo: FewShotDemo, support: np.ndarray, labels: np.ndarray, queries: np.ndarray, steps: int, query_labels=None
) -> TaskViews:
    """Every learner's 2-D view of one task (support (S, 28, 28) with labels (S,), queries (Q, 28, 28));
    an SGD learner's view after `steps` steps uses the axes of its step-0 view. Needs a `ClassifierDemo`."""
    truth = np.full(len(queries), -1) if query_labels is None else np.asarray(query_labels)
    views = TaskViews(steps, truth)
    if not hasattr(demo, "view"):
        return views
    rules = getattr(demo, "rules", {})
    for name in demo.inits:
        if name in rules:
            views.metric[name] = demo.view(name, support, labels, queries)
        else:
            before = demo.view(name, support, labels, queries, 0)
            views.sgd[name] = (before, demo.view(name, support, labels, queries, steps, before.basis))
    return views


def class_color(c: int, ways: int):
    return pg.intColor(c, hues=max(ways, 5), values=1, maxValue=220, sat=200)


class EmbeddingPlot(QWidget):
    """One 2-D view: support points, queries and prototypes, with a learner chooser above."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chooser = QComboBox()
        self.chooser.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.chooser.setMinimumContentsLength(14)
        self.plot = pg.PlotWidget()
        self.plot.setMinimumSize(220, 185)
        self.plot.setMaximumHeight(340)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.getPlotItem().setMouseEnabled(False, False)
        self.title = QLabel(title)
        self.title.setStyleSheet("font-weight: bold;")
        self.support = pg.ScatterPlotItem(symbol="o", size=9, pen=pg.mkPen("k", width=1))
        self.queries = pg.ScatterPlotItem(symbol="t1", size=12, pen=pg.mkPen("k", width=1))
        self.prototypes = pg.ScatterPlotItem(symbol="star", size=20, pen=pg.mkPen("k", width=1.2))
        for z, item in enumerate((self.prototypes, self.support, self.queries)):  # a 1-shot support point is
            item.setZValue(z)  # its class's prototype: the star lies under it, queries on top
            self.plot.addItem(item)
        self.labels: list[pg.TextItem] = []
        self.row = QHBoxLayout()
        self.row.addWidget(self.title)
        self.row.addWidget(self.chooser)
        self.row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.row)
        self.options = QHBoxLayout()
        layout.addLayout(self.options)
        layout.addWidget(self.plot, 1)

    def set_names(self, names: list[str]) -> None:
        chosen = self.chooser.currentText()
        self.chooser.blockSignals(True)
        self.chooser.clear()
        self.chooser.addItems(names)
        default = next((n for n in names if n.startswith(("ProtoNet", "MAML"))), names[0] if names else "")
        self.chooser.setCurrentText(chosen if chosen in names else default)
        self.chooser.blockSignals(False)

    def show_view(self, view: EmbeddingView | None, query_labels: np.ndarray, caption: str = "") -> None:
        for label in self.labels:
            self.plot.removeItem(label)
        self.labels = []
        if view is None:
            for item in (self.support, self.queries, self.prototypes):
                item.setData([], [])
            self.plot.setTitle(caption or "no learner of this kind is ticked")
            return
        ways = len(view.prototypes)
        self.support.setData(pos=view.support, brush=[class_color(int(c), ways) for c in view.support_labels])
        grey = pg.mkBrush(150, 150, 150)
        brushes = [class_color(int(c), ways) if c >= 0 else grey for c in query_labels[: len(view.queries)]]
        self.queries.setData(pos=view.queries, brush=brushes or grey)
        stars = []
        for c in range(ways):
            fill = class_color(c, ways)
            fill.setAlpha(90)  # see-through: the support point under it shows
            stars.append(pg.mkBrush(fill))
        self.prototypes.setData(pos=view.prototypes, brush=stars)
        for c, (x, y) in enumerate(view.prototypes):
            label = pg.TextItem(str(c + 1), color=(30, 30, 30), anchor=(-0.3, 1.1))
            label.setPos(float(x), float(y))
            self.plot.addItem(label)
            self.labels.append(label)
        explained = view.basis.explained
        self.plot.setTitle(caption)
        self.plot.setLabel("bottom", f"PC 1 ({100 * explained[0]:.0f}%)")
        self.plot.setLabel("left", f"PC 2 ({100 * explained[1]:.0f}%)")
        self.plot.getPlotItem().enableAutoRange()


class EmbeddingPanel(QWidget):
    """The two views side by side, and the before/after toggle of the SGD learner's features."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.views: TaskViews | None = None
        self.metric_plot = EmbeddingPlot("Metric embedding:")
        self.sgd_plot = EmbeddingPlot("Penultimate features:")
        self.before_button = QRadioButton("before adaptation")
        self.after_button = QRadioButton("after k steps")
        self.after_button.setChecked(True)
        toggle = QButtonGroup(self)
        for button in (self.before_button, self.after_button):
            toggle.addButton(button)
            self.sgd_plot.options.addWidget(button)
        toggle.buttonToggled.connect(lambda *_: self._redraw())
        for plot in (self.metric_plot, self.sgd_plot):
            plot.chooser.currentTextChanged.connect(lambda *_: self._redraw())
        key = QLabel(KEY)  # one line, not word wrap: a wrapping label's height depends on its width, which the
        # splitter holding this panel does not ask, so it got too little and squeezed the plots under their minimum
        key.setToolTip("A PCA of this task's drawings, recomputed with every task and drawing.")
        self.sgd_plot.options.addStretch(1)
        self.metric_plot.options.addWidget(QLabel("takes no steps: one view"))
        self.metric_plot.options.addStretch(1)
        self.plots = plots = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        plots.addWidget(self.metric_plot, 1)
        plots.addWidget(self.sgd_plot, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(plots, 1)
        layout.addWidget(key)

    def minimumSizeHint(self) -> QSize:
        """As narrow as one view (narrower than `SIDE_BY_SIDE`, the views stack): never a sideways scroll bar."""
        hint = super().minimumSizeHint()
        hint.setWidth(max(plot.minimumSizeHint().width() for plot in (self.metric_plot, self.sgd_plot)))
        return hint

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        wide = event.size().width() >= SIDE_BY_SIDE
        self.plots.setDirection(QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom)

    def set_views(self, views: TaskViews | None) -> None:
        self.views = views
        self.metric_plot.set_names(list(views.metric) if views else [])
        self.sgd_plot.set_names(list(views.sgd) if views else [])
        if views is not None:
            self.after_button.setText(f"after {views.steps} step{'s' * (views.steps > 1)}")
        self._redraw()

    def _redraw(self) -> None:
        views = self.views
        if views is None:
            self.metric_plot.show_view(None, np.array([]), "no task yet")
            self.sgd_plot.show_view(None, np.array([]), "no task yet")
            return
        name = self.metric_plot.chooser.currentText()
        view = views.metric.get(name)
        caption = f"{name} (★ = class means)" if view else ""
        self.metric_plot.show_view(view, views.query_labels, caption)
        name = self.sgd_plot.chooser.currentText()
        pair = views.sgd.get(name)
        after = self.after_button.isChecked()
        caption = f"{name}, {self.after_button.text() if after else 'before adaptation'} (step-0 axes)"
        self.sgd_plot.show_view(pair[after] if pair else None, views.query_labels, caption if pair else "")
