"""Colours and names shared by every panel: one colour family per model (Okabe–Ito), truth in grey."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPen

BASE_COLORS = {"maml": "#0072B2", "fomaml": "#009E73", "pretrained": "#D55E00"}
EXTRA_COLORS = ("#CC79A7", "#56B4E9", "#E69F00", "#000000")
TRUTH_COLOR = "#666666"
POINT_BRUSH = "#F0E442"
DISPLAY_NAMES = {"maml": "MAML", "fomaml": "FO-MAML", "pretrained": "Pretrained"}


def display_name(name: str) -> str:
    return DISPLAY_NAMES.get(name, name)


def model_color(name: str) -> QColor:
    """The base colour of a model; unknown names get a stable colour from the extra list."""
    if name in BASE_COLORS:
        return QColor(BASE_COLORS[name])
    return QColor(EXTRA_COLORS[sum(map(ord, name)) % len(EXTRA_COLORS)])


def model_pen(name: str, stage: str, width: float = 2.0) -> QPen:
    """Pen for a model curve at a stage: 'before' (light, dashed), 'step1' (medium), 'stepk' (saturated)."""
    color = model_color(name)
    if stage == "before":
        color = color.lighter(165)
    elif stage == "step1":
        color = color.lighter(125)
    elif stage == "ghost":
        color.setAlpha(45)
    pen = QPen(color)
    pen.setWidthF(width if stage in ("stepk", "step1") else 1.5)
    pen.setCosmetic(True)
    if stage == "before":
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def truth_pen() -> QPen:
    pen = QPen(QColor(TRUTH_COLOR))
    pen.setWidthF(2.0)
    pen.setCosmetic(True)
    pen.setStyle(Qt.PenStyle.DotLine)
    return pen
