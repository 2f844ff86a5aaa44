"""The playground: named initializations adapted live on the user's support points."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from mamlviz.core.algorithms import InnerLoop
from mamlviz.core.errors import MamlvizError
from mamlviz.core.model import Params
from mamlviz.core.playground import ModelCurves, Truth, adapt_all, check_points
from mamlviz.gui.mse_curve import MseCurvePlot
from mamlviz.gui.playground_plot import X_RANGE, PlaygroundPlot
from mamlviz.gui.style import display_name

GRID = np.linspace(*X_RANGE, 151)
HISTORY = 200
"""Point edits that can be undone."""


class PlaygroundPanel(QWidget):
    """Holds the playground state (inits, truth, points, α, k) and redraws both plots on every change."""

    updated = Signal()
    problem = Signal(str)
    history_changed = Signal()
    """What can be undone or redone changed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = PlaygroundPlot()
        self.mse_plot = MseCurvePlot()
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.plot)
        splitter.addWidget(self.mse_plot)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([600, 250])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.inits: dict[str, Params] = {}
        self.loops: dict[str, InnerLoop] = {}
        self.truth: Truth | None = None
        self.points = np.zeros((0, 2))
        self.lr, self.steps, self.show_steps = 0.01, 10, False
        self.curves: dict[str, ModelCurves] = {}
        self.selected: int | None = None
        self._drawn_truth: Truth | bool | None = False
        self.undo_stack: list[np.ndarray] = []
        self.redo_stack: list[np.ndarray] = []
        editor = self.plot.editor
        editor.point_added.connect(self.add_point)
        editor.drag_started.connect(lambda _: self._remember())
        editor.point_moved.connect(self.move_point)
        editor.point_removed.connect(self.remove_point)
        editor.point_selected.connect(self._select)
        self.plot.delete_requested.connect(self.remove_selected)

    def set_inits(self, inits: Mapping[str, Params], loops: Mapping[str, InnerLoop] | None = None) -> None:
        """The initializations to adapt, and how each adapts (plain SGD on every parameter when not given)."""
        self.inits, self.loops = dict(inits), dict(loops or {})
        self.refresh()

    def set_truth(self, truth: Truth | None) -> None:
        self.truth = truth
        self.refresh()

    def set_adaptation(self, lr: float, steps: int, show_steps: bool) -> None:
        self.lr, self.steps, self.show_steps = lr, steps, show_steps
        self.refresh()

    def set_points(self, points: object) -> None:
        """Replace every point (an edit that can be undone); refuses NaN or huge coordinates with a message and
        keeps the old ones."""
        checked = self._checked(points)
        if checked is None:
            return
        if not np.array_equal(checked, self.points):
            self._remember()
        self._show_points(checked)

    def _checked(self, points: object) -> np.ndarray | None:
        try:
            return check_points(points)
        except MamlvizError as exc:
            self.problem.emit(str(exc))
            return None

    def _show_points(self, points: np.ndarray) -> None:
        self.points = points
        self.selected = None
        self.refresh()

    def _remember(self) -> None:
        """Keep the current points for Undo (a new edit forgets what could be redone)."""
        self.undo_stack = [*self.undo_stack[-(HISTORY - 1) :], self.points.copy()]
        self.redo_stack = []
        self.history_changed.emit()

    def undo(self) -> None:
        """Back to the points before the last edit."""
        if self.undo_stack:
            self.redo_stack.append(self.points.copy())
            self._show_points(self.undo_stack.pop())
            self.history_changed.emit()

    def redo(self) -> None:
        """Again the edit the last Undo took back."""
        if self.redo_stack:
            self.undo_stack.append(self.points.copy())
            self._show_points(self.redo_stack.pop())
            self.history_changed.emit()

    def add_point(self, x: float, y: float) -> None:
        self.set_points(np.vstack([self.points, [x, y]]))
        self.selected = len(self.points) - 1

    def move_point(self, index: int, x: float, y: float) -> None:
        """One step of a drag (the drag as a whole is one edit: remembered when it starts)."""
        points = self.points.copy()
        points[index] = (x, y)
        checked = self._checked(points)
        if checked is not None:
            self._show_points(checked)
            self.selected = index

    def remove_point(self, index: int) -> None:
        self.set_points(np.delete(self.points, index, axis=0))

    def remove_selected(self) -> None:
        """Delete key: remove the selected point, or the last one added."""
        if len(self.points):
            index = self.selected if self.selected is not None and self.selected < len(self.points) else -1
            self.remove_point(index)

    def _select(self, index: int) -> None:
        self.selected = index

    def refresh(self) -> None:
        """Adapt every initialization on the points and redraw."""
        try:
            self.curves = adapt_all(self.inits, self.points, GRID, self.lr, self.steps, self.truth, self.loops)
        except MamlvizError as exc:
            self.problem.emit(str(exc))
            return
        if not np.array_equal(self.points, self.plot.editor.points):
            self.plot.set_points(self.points)
        if self.truth != self._drawn_truth:
            self.plot.set_truth(GRID, None if self.truth is None else self.truth(GRID))
            self._drawn_truth = self.truth
        self.plot.set_curves(GRID, self.curves, self.show_steps)
        self.plot.set_summary(self.summary_html())
        self.mse_plot.set_curves(self.curves)
        self.updated.emit()

    def summary_html(self) -> str:
        """The numbers a user compares, printed in the plot corner."""
        k = len(self.points)
        rows = [f"<b>K = {k}</b> point{'s' if k != 1 else ''}, α = {self.lr:g}"]
        if not k:
            rows.append("no points: unadapted curves")
        for name, model in self.curves.items():
            label = display_name(name)
            if model.diverged:
                rows.append(f"{label}: adaptation diverged (lower α)")
            elif model.true_mse is not None and model.steps:
                mse = model.true_mse
                rows.append(f"{label} MSE: θ {mse[0]:.2f} · 1 step {mse[1]:.2f} · {model.steps} steps {mse[-1]:.2f}")
            elif model.true_mse is not None:
                rows.append(f"{label} MSE: θ {model.true_mse[0]:.2f}")
            elif len(model.support_loss):
                rows.append(f"{label} support loss after {model.steps} steps: {model.support_loss[-1]:.3f}")
        return "<span style='font-size:9pt'>" + "<br>".join(rows) + "</span>"
