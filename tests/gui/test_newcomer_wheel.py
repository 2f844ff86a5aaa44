"""Issue #12, item 9: the mouse wheel scrolls the Controls panel; it changes no value under the cursor."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractSlider, QAbstractSpinBox, QApplication, QComboBox, QScrollBar

from mamlviz.gui.controls import ControlsPanel, scrolling


def _wheel(widget, notches: int = -1) -> None:
    """A wheel turn (negative: down) over the middle of `widget`, as Qt delivers it."""
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def _panel(qtbot):
    panel = ControlsPanel()
    area = scrolling(panel)
    qtbot.addWidget(area)
    area.resize(320, 400)  # much shorter than the panel: the panel scrolls
    area.show()
    qtbot.waitExposed(area)
    return panel, area


def test_wheel_over_an_unfocused_combo_box_scrolls_the_panel(qtbot):
    panel, area = _panel(qtbot)
    preset = panel.training.preset
    before_index, before_scroll = preset.currentIndex(), area.verticalScrollBar().value()
    for _ in range(3):
        _wheel(preset)
    assert preset.currentIndex() == before_index  # one scroll once set the preset to "Paper"
    assert area.verticalScrollBar().value() > before_scroll  # the panel scrolled instead


def test_no_value_widget_of_the_panel_changes_under_the_wheel(qtbot):
    panel, _area = _panel(qtbot)
    widgets = [
        w
        for kind in (QComboBox, QAbstractSpinBox, QAbstractSlider)
        for w in panel.findChildren(kind)
        if not isinstance(w, QScrollBar)
    ]
    assert len(widgets) >= 8
    for widget in widgets:
        value = (
            widget.currentIndex()
            if isinstance(widget, QComboBox)
            else widget.value()
            if hasattr(widget, "value")
            else None
        )
        _wheel(widget, -1)
        _wheel(widget, 1)
        _wheel(widget, -1)
        after = (
            widget.currentIndex()
            if isinstance(widget, QComboBox)
            else widget.value()
            if hasattr(widget, "value")
            else None
        )
        assert after == value, widget
        assert widget.focusPolicy() == Qt.FocusPolicy.StrongFocus


def test_a_focused_spin_box_still_takes_the_wheel(qtbot):
    panel, _area = _panel(qtbot)
    spin = panel.findChildren(QAbstractSpinBox)[0]
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    before = spin.value()
    _wheel(spin, 1)
    assert spin.value() != before
