"""Small painted pieces of the Classification tab: character thumbnails and probability bars."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen, QPixmap, QResizeEvent
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from mamlviz.gui.style import DISPLAY_NAMES, model_color


def learner_color(name: str) -> QColor:
    """The playground's colour of the algorithm a learner is named after ('MAML', 'FO-MAML (trained here)', ...),
    darker for one trained in this app."""
    label = name.split(" (")[0]
    color = model_color(next((key for key, text in DISPLAY_NAMES.items() if text == label), label.lower()))
    return color.darker(150) if name.endswith("(trained here)") else color


def ink_pixmap(ink: np.ndarray, scale: int = 2) -> QPixmap:
    """A (28, 28) ink image in [0, 1] as dark strokes on white, enlarged `scale` times."""
    gray = np.ascontiguousarray(255 - np.clip(ink * 255, 0, 255).astype(np.uint8))
    image = QImage(gray.data, gray.shape[1], gray.shape[0], gray.shape[1], QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(image.scaled(gray.shape[1] * scale, gray.shape[0] * scale))


class Thumbnail(QLabel):
    """One character drawing."""

    def __init__(self, ink: np.ndarray, scale: int = 2, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPixmap(ink_pixmap(ink, scale))
        self.setStyleSheet("border: 1px solid #aaa;")
        self.setFixedSize(self.sizeHint())


class ProbabilityBars(QWidget):
    """N bars: filled = probabilities after the chosen step, outline = before adaptation; ✓ under the truth.
    Where the class numbers do not all fit (20 ways), the truth's, the answer's, 1 and every fifth are shown."""

    def __init__(self, color: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.color = color
        self.before: np.ndarray | None = None
        self.after: np.ndarray | None = None
        self.truth: int | None = None
        self.setMinimumSize(110, 40)

    def set_values(self, before: np.ndarray, after: np.ndarray, truth: int | None) -> None:
        self.before, self.after, self.truth = np.asarray(before), np.asarray(after), truth
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.after is None or self.before is None:
            return
        painter = QPainter(self)
        ways = len(self.after)
        label_height = 13
        height = self.height() - label_height - 2
        width = self.width() / ways
        best = int(np.argmax(self.after))
        gap = min(2.0, width / 5)
        for c in range(ways):
            left = c * width + gap
            bar_width = width - 2 * gap
            filled = float(self.after[c]) * height
            fill = QColor(self.color)
            fill.setAlpha(255 if c == best else 130)
            painter.fillRect(QRectF(left, height - filled, bar_width, filled), fill)
            painter.setPen(QPen(QColor(90, 90, 90), 1, Qt.PenStyle.DashLine))
            outline = float(self.before[c]) * height
            painter.drawRect(QRectF(left, height - outline, bar_width, outline))
        metrics = painter.fontMetrics()
        crowded = metrics.horizontalAdvance(str(ways)) + 2 > width
        placed: list[QRectF] = []
        for c in dict.fromkeys([*(n for n in (self.truth, best) if n is not None), *range(ways)]):
            if crowded and c not in (self.truth, best) and c > 0 and (c + 1) % 5:
                continue
            text = f"{c + 1}✓" if c == self.truth else str(c + 1)
            text_width = metrics.horizontalAdvance(text) + 2
            left = min(max(0.0, (c + 0.5) * width - text_width / 2), self.width() - text_width)
            rect = QRectF(left, height + 1, text_width, label_height)
            if not any(rect.intersects(other) for other in placed):
                painter.setPen(QColor(0, 130, 0) if c == self.truth else self.palette().text().color())
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
                placed.append(rect)
        painter.end()


class QueryResult(QWidget):
    """A query (thumbnail, if given) with each learner's bars and its answer, e.g. 'MAML: 3 (87%) ✓'."""

    def __init__(self, names: list[str], ink: np.ndarray | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        if ink is not None:
            row = QHBoxLayout()
            row.addStretch()
            row.addWidget(Thumbnail(ink, 2))
            row.addStretch()
            layout.addLayout(row)
        self.bars: dict[str, ProbabilityBars] = {}
        self.answers: dict[str, QLabel] = {}
        for name in names:
            answer = QLabel(name)
            answer.setStyleSheet(f"color: {learner_color(name).name()};")
            answer.setMinimumWidth(answer.fontMetrics().horizontalAdvance(f"{name}: class 20 (100%) ✓") + 4)
            bars = ProbabilityBars(learner_color(name))
            layout.addWidget(answer)
            layout.addWidget(bars)
            self.bars[name], self.answers[name] = bars, answer

    def show_step(self, name: str, probabilities: np.ndarray, step: int, truth: int | None) -> None:
        """`probabilities` (steps + 1, N) of this query; shows step `step` against step 0."""
        after = probabilities[step]
        guess = int(np.argmax(after))
        mark = "" if truth is None else (" ✓" if guess == truth else " ✗")
        self.answers[name].setText(f"{name}: class {guess + 1} ({100 * after[guess]:.0f}%){mark}")
        self.bars[name].set_values(probabilities[0], after, truth)


class WrappingGrid(QWidget):
    """Widgets in rows that wrap at the available width: as many columns of the widest one as fit, at least one
    (a single row of five queries needed a horizontal scroll bar beside the support set)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.widgets: list[QWidget] = []
        self.columns = 0

    def set_widgets(self, widgets: list[QWidget]) -> None:
        """Replace the widgets (the old ones are deleted)."""
        for widget in self.widgets:
            self.grid.removeWidget(widget)
            widget.deleteLater()
        self.widgets, self.columns = list(widgets), 0
        self._reflow()

    def minimumSizeHint(self) -> QSize:
        """As narrow as one column, whatever the columns are now (else the grid could never get narrower)."""
        hint = super().minimumSizeHint()
        if self.widgets:
            hint.setWidth(self._cell_width())
        return hint

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._reflow()

    def _cell_width(self) -> int:
        return max(widget.sizeHint().width() for widget in self.widgets) + self.grid.horizontalSpacing()

    def _reflow(self) -> None:
        if not self.widgets:
            return
        columns = max(1, min(len(self.widgets), (self.width() + self.grid.horizontalSpacing()) // self._cell_width()))
        if columns == self.columns:
            return
        self.columns = columns
        for i, widget in enumerate(self.widgets):
            self.grid.addWidget(widget, i // columns, i % columns, Qt.AlignmentFlag.AlignTop)
