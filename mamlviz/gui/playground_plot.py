"""The playground plot: support points the user edits with the mouse, and every model's adapted curves."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QApplication, QToolTip

from mamlviz.core.config import TaskConfig
from mamlviz.core.sinusoid.playground import ModelCurves
from mamlviz.gui.style import POINT_BRUSH, display_name, legend_below, model_pen, truth_pen, unindexed

X_MARGIN = 0.5
"""The plot shows this much more than the tasks' x range on either side."""
X_RANGE = (TaskConfig().x_range[0] - X_MARGIN, TaskConfig().x_range[1] + X_MARGIN)
Y_RANGE = (-6.0, 6.0)
HIT_RADIUS_PX = 12.0
MIN_HEIGHT = 260
"""Numbers, view and legend stay readable when a dock (Ctrl+I's Insights) takes room: never a strip."""


class PointEditor(pg.ViewBox):
    """A fixed-range view box (no pan, zoom or menu) holding the points and the signals that edit them."""

    point_added = Signal(float, float)
    drag_started = Signal(int)
    """A point starts being dragged (the moves that follow are one edit)."""
    point_moved = Signal(int, float, float)
    point_removed = Signal(int)
    point_selected = Signal(int)

    def __init__(self) -> None:
        super().__init__(enableMenu=False)
        self.setMouseEnabled(False, False)
        self.points = np.zeros((0, 2))

    def nearest(self, scene_pos: QPointF, radius_px: float = HIT_RADIUS_PX) -> int | None:
        """Index of the point nearest to a scene position, if within `radius_px` pixels."""
        if not len(self.points):
            return None
        view = self.mapSceneToView(scene_pos)
        width, height = self.viewPixelSize()
        distance = np.hypot((self.points[:, 0] - view.x()) / width, (self.points[:, 1] - view.y()) / height)
        index = int(np.argmin(distance))
        return index if distance[index] <= radius_px else None

    def clamped(self, scene_pos: QPointF) -> tuple[float, float]:
        """The view coordinates of a scene position, held inside the visible range."""
        view = self.mapSceneToView(scene_pos)
        (x0, x1), (y0, y1) = self.viewRange()
        return float(np.clip(view.x(), x0, x1)), float(np.clip(view.y(), y0, y1))


class SummaryLabel(pg.LabelItem):
    """The numbers a user compares, in a row of their own above the plot area (so no curve ever runs under
    them): the first line across, one cell per model after it, in two columns when there are many models."""

    def __init__(self) -> None:
        super().__init__(justify="left")
        self.item.setDefaultTextColor(pg.mkColor("#222222"))
        self.setFlag(self.GraphicsItemFlag.ItemClipsChildrenToShape)
        self.rows: list[str] = []

    def set_rows(self, rows: list[str], columns: int, size: str = "9pt") -> None:
        self.rows = rows
        head, cells = rows[:1], rows[1:]
        if columns > 1 and len(cells) > 3:
            half = (len(cells) + 1) // 2
            pairs = [(cells[i], cells[i + half] if i + half < len(cells) else "") for i in range(half)]
            body = "".join(f"<tr><td>{a}</td><td style='padding-left:18px'>{b}</td></tr>" for a, b in pairs)
        else:
            body = "".join(f"<tr><td colspan=2>{cell}</td></tr>" for cell in cells)
        html = (
            f"<table cellspacing=0 cellpadding=0 style='font-size:{size}'>"
            + "".join(f"<tr><td colspan=2>{cell}</td></tr>" for cell in head)
            + body
            + "</table>"
        )
        self.text = html
        self.item.setHtml(html)
        self.updateMin()
        self.resizeEvent(None)
        self.updateGeometry()

    def updateMin(self) -> None:
        """As tall as its text, but no wider than the plot gives it: a narrow plot clips the numbers rather than
        pushing its own axes out of the window."""
        super().updateMin()
        height = self.itemRect().height()
        self.setMinimumWidth(0)
        for hint in (Qt.SizeHint.MinimumSize, Qt.SizeHint.PreferredSize):
            self._sizeHint[hint] = (0, height)
        self.updateGeometry()

    def toPlainText(self) -> str:
        return self.item.toPlainText()


class PlaygroundPlot(pg.PlotWidget):
    """Draws the truth, the support points and, per named model, θ, 1 step, k steps and faint steps."""

    delete_requested = Signal()

    def __init__(self, parent=None) -> None:
        self.editor = PointEditor()
        super().__init__(parent, viewBox=self.editor)
        unindexed(self)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumHeight(MIN_HEIGHT)
        item = self.getPlotItem()
        item.setXRange(*X_RANGE, padding=0)
        item.setYRange(*Y_RANGE, padding=0)
        item.setLabel("bottom", "x")
        item.setLabel("left", "y")
        item.hideButtons()
        self.legend = legend_below(item, 3, "9pt")
        self.truth_curve = item.plot(pen=truth_pen(), name="True function")
        self.model_curves: dict[str, dict[str, pg.PlotCurveItem]] = {}
        self.curve_labels: dict[pg.PlotCurveItem, str] = {}
        """The legend text of every model curve, listed or not."""
        self.ghosts: dict[str, list[pg.PlotCurveItem]] = {}
        self.points_item = pg.ScatterPlotItem(
            size=12, brush=pg.mkBrush(POINT_BRUSH), pen=pg.mkPen("#222222", width=1.5), hoverable=True, hoverSize=16
        )
        self.points_item.setZValue(10)
        item.addItem(self.points_item)
        self.legend.addItem(self.points_item, "Support points")
        self.summary = SummaryLabel()
        self.summary_html = ""
        self._summary_layout: tuple[int, str] | None = None
        item.layout.removeItem(item.titleLabel)  # the plot has no title: its row holds the summary
        item.titleLabel.hide()
        item.layout.addItem(self.summary, 0, 1)
        self.y_high = Y_RANGE[1]
        self.empty_message = pg.TextItem(
            "Click to add support points", color="#444444", anchor=(0.5, 0.5), fill=pg.mkBrush(255, 255, 255, 200)
        )  # the empty state: no points, nothing adapted
        self.empty_message.setZValue(20)
        item.addItem(self.empty_message, ignoreBounds=True)
        self.empty_message.setPos(0.0, 0.0)
        self.hover_curves: dict[str, tuple[np.ndarray, np.ndarray, float | None]] = {}
        """Label -> (x, y, MSE on the truth or None) of every model curve shown, for the tooltip under the cursor."""
        self._press: tuple[Qt.MouseButton, QPointF, int | None] | None = None
        """Button, scene position and nearest point of the press being handled, if it fell in the plot area."""
        self._dragging = False

    def set_points(self, points: np.ndarray) -> None:
        """Show the points; the y-range grows (never below ±6) so that every point stays visible."""
        self.editor.points = points
        if len(points):
            self.points_item.setData(points[:, 0], points[:, 1])
        else:
            self.points_item.clear()
        self.empty_message.setVisible(not len(points))
        high = max(Y_RANGE[1], float(np.abs(points[:, 1]).max()) * 1.1 if len(points) else 0.0)
        if high != self.y_high:
            self.y_high = high
            self.getPlotItem().setYRange(-high, high, padding=0)

    def set_truth(self, grid: np.ndarray, values: np.ndarray | None) -> None:
        if values is None:
            self.truth_curve.clear()
            self.truth_curve.hide()
        else:
            self.truth_curve.setData(grid, values)
            self.truth_curve.show()

    def _curves_for(self, name: str) -> dict[str, pg.PlotCurveItem]:
        if name not in self.model_curves:
            item = self.getPlotItem()
            label = display_name(name)
            self.model_curves[name] = {}
            for stage in ("before", "step1", "stepk"):
                curve = pg.PlotCurveItem(
                    pen=model_pen(name, stage), name=f"{label} {stage}"
                )  # lighter than PlotDataItem
                item.addItem(curve)
                self.model_curves[name][stage] = curve
            self.ghosts[name] = []
        return self.model_curves[name]

    def set_curves(self, grid: np.ndarray, curves: Mapping[str, ModelCurves], show_steps: bool) -> None:
        """Show each model's curves; models no longer listed are removed."""
        for name in list(self.model_curves):
            if name not in curves:
                for curve in self.model_curves.pop(name).values():
                    self.legend.removeItem(curve)
                    self.curve_labels.pop(curve, None)
                    self.getPlotItem().removeItem(curve)
                for ghost in self.ghosts.pop(name):
                    self.getPlotItem().removeItem(ghost)
        self.hover_curves = {}
        for name, model in curves.items():
            items = self._curves_for(name)
            label = display_name(name)
            predictions, k = model.predictions, model.steps
            stages = {"before": (f"{label} θ (before)", 0), "step1": (f"{label} 1 step", 1)}
            stages["stepk"] = (f"{label} {k} step{'s' if k != 1 else ''}", k)
            shown = {"before", *(["stepk"] if k >= 1 else []), *(["step1"] if k > 1 else [])}
            for stage, (text, row) in stages.items():
                items[stage].setVisible(stage in shown)
                self._rename(items[stage], text)
                if stage in shown:
                    items[stage].setData(grid, predictions[row], connect="finite")
                    mse = None if model.true_mse is None else float(model.true_mse[row])
                    self.hover_curves[text] = (grid, predictions[row], mse)
            self._set_ghosts(name, grid, predictions[1:-1] if show_steps else np.zeros((0, len(grid))))
        self._sync_legend()

    def _sync_legend(self) -> None:
        """The legend lists the curves drawn, no more: a hidden curve ("MAML 0 steps" without points) has no entry
        (its sample would be a broken icon)."""
        wanted = [self.truth_curve, self.points_item]
        for items in self.model_curves.values():
            wanted += [items[stage] for stage in ("before", "step1", "stepk") if items[stage].isVisible()]
        listed = [sample.item for sample, _ in self.legend.items]
        if listed == wanted:
            return
        texts = {sample.item: label.text for sample, label in self.legend.items} | self.curve_labels
        self.legend.clear()
        for item in wanted:
            self.legend.addItem(item, texts.get(item, ""))

    def curve_at(self, scene_pos: QPointF) -> str | None:
        """'MAML 10 steps · MSE 0.32 on the true task' for the curve under a scene position (within
        HIT_RADIUS_PX pixels vertically; the nearest wins), None over no curve."""
        if not self.editor.sceneBoundingRect().contains(scene_pos):
            return None
        view = self.editor.mapSceneToView(scene_pos)
        _, height = self.editor.viewPixelSize()
        candidates = list(self.hover_curves.items())
        if self.truth_curve.isVisible():
            candidates.append(("True function", (*self.truth_curve.getData(), None)))
        best: tuple[float, str] | None = None
        for label, (x, y, mse) in candidates:
            distance = abs(float(np.interp(view.x(), x, y)) - view.y()) / height
            if distance <= HIT_RADIUS_PX and (best is None or distance < best[0]):
                best = (distance, label if mse is None else f"{label} · MSE {mse:.3g} on the true task")
        return None if best is None else best[1]

    def _rename(self, curve: pg.PlotCurveItem, text: str) -> None:
        self.curve_labels[curve] = text
        label = self.legend.getLabel(curve)
        if label is not None and label.text != text:
            label.setText(text, size="9pt")

    def _set_ghosts(self, name: str, grid: np.ndarray, rows: np.ndarray) -> None:
        ghosts = self.ghosts[name]
        while len(ghosts) < len(rows):
            ghost = pg.PlotCurveItem(pen=model_pen(name, "ghost", 1.0))
            ghost.setZValue(-5)
            self.getPlotItem().addItem(ghost)
            ghosts.append(ghost)
        for i, ghost in enumerate(ghosts):
            ghost.setVisible(i < len(rows))
            if i < len(rows):
                ghost.setData(grid, rows[i], connect="finite")

    def set_summary(self, html: str) -> None:
        """Show the panel's summary (lines joined by <br>) above the plot, compact when many models are shown."""
        if html != self.summary_html:
            self.summary_html = html
            inner = re.sub(r"^<span[^>]*>|</span>$", "", html)
            self.summary.rows = [row for row in re.split(r"<br\s*/?>", inner) if row]
            self._layout_summary(force=True)

    def _layout_summary(self, force: bool = False) -> None:
        """Lay the summary out for the plot's width: 9pt when wide, 8pt below 760 px, one column below 560 px."""
        width = self.width()
        columns, size = (2 if width >= 560 else 1), ("8pt" if width < 760 else "9pt")
        if not force and (columns, size) == self._summary_layout:
            return
        self._summary_layout = (columns, size)
        self.summary.set_rows(self.summary.rows, columns, size)
        self.getPlotItem().layout.setRowFixedHeight(0, self.summary.item.boundingRect().height() + 2)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        summary = getattr(self, "summary", None)  # None while the base class is being built
        if summary is not None and summary.rows:
            self._layout_summary()

    # Mouse edits are handled here, on the view, rather than through pyqtgraph's scene events: its hit test of
    # every item under the cursor (curves included) cost about 7 ms of each click.
    def mousePressEvent(self, ev: QMouseEvent) -> None:
        scene_pos = self.mapToScene(ev.position().toPoint())
        if not self.editor.sceneBoundingRect().contains(scene_pos):
            super().mousePressEvent(ev)
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self._press, self._dragging = (ev.button(), scene_pos, self.editor.nearest(scene_pos)), False
        ev.accept()

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:
        if self._press is None:
            super().mouseMoveEvent(ev)  # hover feedback on the points
            text = self.curve_at(self.mapToScene(ev.position().toPoint()))
            if text is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(ev.globalPosition().toPoint(), text, self.viewport())
            return
        button, start, index = self._press
        scene_pos = self.mapToScene(ev.position().toPoint())
        moved = (self.mapFromScene(scene_pos) - self.mapFromScene(start)).manhattanLength()
        starts = not self._dragging and moved >= QApplication.startDragDistance()
        self._dragging = self._dragging or starts
        if starts and button == Qt.MouseButton.LeftButton and index is not None:
            self.editor.drag_started.emit(index)
        if button == Qt.MouseButton.LeftButton and index is not None and self._dragging:
            self.editor.point_moved.emit(index, *self.editor.clamped(scene_pos))
        ev.accept()

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:
        if self._press is None:
            super().mouseReleaseEvent(ev)
            return
        button, _, index = self._press
        self.mouseMoveEvent(ev)  # a drag ends where the button is released
        self._press = None
        if self._dragging:
            ev.accept()
            return
        if button == Qt.MouseButton.LeftButton and index is None:
            self.editor.point_added.emit(*self.editor.clamped(self.mapToScene(ev.position().toPoint())))
        elif button == Qt.MouseButton.LeftButton:
            self.editor.point_selected.emit(index)
        elif button == Qt.MouseButton.RightButton and index is not None:
            self.editor.point_removed.emit(index)
        ev.accept()

    def keyPressEvent(self, ev: QKeyEvent) -> None:
        if ev.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_requested.emit()
            ev.accept()
        else:
            super().keyPressEvent(ev)
