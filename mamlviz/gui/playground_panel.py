"""The playground: the ticked sinusoid initializations adapted live on the support points of the app state."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from mamlviz.core.checkpoint import Initialization
from mamlviz.core.data import Truth
from mamlviz.core.errors import CheckpointError, MamlvizError
from mamlviz.core.evaluate import DIVERGED_MSE
from mamlviz.core.sinusoid.playground import ModelCurves, adapt_all
from mamlviz.gui.mse_curve import MseCurvePlot
from mamlviz.gui.playground_plot import X_RANGE, PlaygroundPlot
from mamlviz.gui.state import AppState
from mamlviz.gui.style import display_name

GRID = np.linspace(*X_RANGE, 151)
DOMAIN = "sinusoid"


def _mse(value: float) -> str:
    """An MSE for the corner text: two decimals, or 'diverged' past what `mamlviz eval` counts as diverged."""
    return f"{value:.2f}" if value < DIVERGED_MSE else "diverged"


class PlaygroundPanel(QWidget):
    """Draws the state's ticked sinusoid initializations adapted on its points; edits on the plot become intents."""

    updated = Signal()

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
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
        self.curves: dict[str, ModelCurves] = {}
        """What was drawn last: each shown initialization's predictions and errors."""
        self.selected: int | None = None
        self._drawn_truth: Truth | bool | None = False
        editor = self.plot.editor
        editor.point_added.connect(self._add_point)
        editor.drag_started.connect(lambda _: state.remember())
        editor.point_moved.connect(self._move_point)
        editor.point_removed.connect(state.remove_point)
        editor.point_selected.connect(self._select)
        self.plot.delete_requested.connect(self.remove_selected)
        for signal in (state.shown_changed, state.truth_changed, state.adaptation_changed):
            signal.connect(self.refresh)
        state.points_changed.connect(self._on_points)

    @staticmethod
    def check_init(init: Initialization, source: str) -> None:
        """Refuse, in one sentence, an initialization the playground cannot adapt (it maps x to y: 1 → 1)."""
        sizes = init.config.model.sizes
        if sizes[0] != 1 or sizes[-1] != 1:
            raise CheckpointError(
                f"{source} maps {sizes[0]} inputs to {sizes[-1]} outputs; the sinusoid playground needs 1 → 1."
            )

    def _add_point(self, x: float, y: float) -> None:
        self.state.add_point(x, y)
        self.selected = len(self.state.points) - 1

    def _move_point(self, index: int, x: float, y: float) -> None:
        self.state.move_point(index, x, y)
        self.selected = index

    def _on_points(self) -> None:
        if self.selected is not None and self.selected >= len(self.state.points):
            self.selected = None
        self.refresh()

    def remove_selected(self) -> None:
        """Delete key: remove the selected point, or the last one added."""
        points = self.state.points
        if len(points):
            index = self.selected if self.selected is not None and self.selected < len(points) else -1
            self.selected = None
            self.state.remove_point(index)

    def _select(self, index: int) -> None:
        self.selected = index

    def refresh(self) -> None:
        """Adapt every ticked initialization on the points and redraw."""
        state, adaptation = self.state, self.state.adaptation
        params = state.shown_params(DOMAIN)
        try:
            self.curves = adapt_all(
                params, state.points, GRID, adaptation.lr, adaptation.steps, state.truth, state.loops(params)
            )
        except MamlvizError as exc:
            state.problem.emit(str(exc))
            return
        if not np.array_equal(state.points, self.plot.editor.points):
            self.plot.set_points(state.points)
        if state.truth != self._drawn_truth:
            self.plot.set_truth(GRID, None if state.truth is None else state.truth(GRID))
            self._drawn_truth = state.truth
        self.plot.set_curves(GRID, self.curves, adaptation.show_steps)
        self.plot.set_summary(self.summary_html())
        self.mse_plot.set_curves(self.curves)
        self.updated.emit()

    def summary_html(self) -> str:
        """The numbers a user compares, printed in the plot corner."""
        k = len(self.state.points)
        rows = [f"<b>K = {k}</b> point{'s' if k != 1 else ''}, α = {self.state.adaptation.lr:g}"]
        if not k:
            rows.append("no points: unadapted curves")
        for name, model in self.curves.items():
            label = display_name(name)
            if model.diverged:
                rows.append(f"{label}: adaptation diverged (lower α)")
            elif model.true_mse is not None and model.steps:
                mse = [_mse(value) for value in model.true_mse]
                rows.append(f"{label} MSE: θ {mse[0]} · 1 step {mse[1]} · {model.steps} steps {mse[-1]}")
            elif model.true_mse is not None:
                rows.append(f"{label} MSE: θ {_mse(model.true_mse[0])}")
            elif len(model.support_loss):
                rows.append(f"{label} support loss after {model.steps} steps: {model.support_loss[-1]:.3f}")
        return "<span style='font-size:9pt'>" + "<br>".join(rows) + "</span>"
