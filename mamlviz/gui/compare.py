"""The compare list: every loaded initialization, ticked to show it in the playground."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QGroupBox, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from mamlviz.gui.style import display_name, model_color


def _swatch(color: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(color)
    return QIcon(pixmap)


class CompareList(QGroupBox):
    """One checkable row per initialization (colour swatch, name, tooltip); the current row is the one exported."""

    changed = Signal()
    """The set of ticked initializations changed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Initializations", parent)
        self.setToolTip(
            "Tick the initializations to adapt and compare in the playground; the highlighted one is exported."
        )
        self.list = QListWidget()
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        self.list.itemChanged.connect(lambda _item: self.changed.emit())

    def set_entries(self, tips: Mapping[str, str], shown: Iterable[str], current: str | None = None) -> None:
        """Rows for `tips` (name -> tooltip), ticked where the name is in `shown`; `current` is highlighted.

        The rows are updated in place when the names are the same (a tick never rebuilds the list under the
        user's pointer)."""
        shown = set(shown)
        self.list.blockSignals(True)
        if self.names() != list(tips):
            self.list.clear()
            for name in tips:
                item = QListWidgetItem(_swatch(model_color(name)), display_name(name))
                item.setData(Qt.ItemDataRole.UserRole, name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                self.list.addItem(item)
            rows = max(self.list.count(), 3)
            self.list.setFixedHeight(rows * self.list.sizeHintForRow(0) + 2 * self.list.frameWidth() + 2)
        for item in self._items():
            name = item.data(Qt.ItemDataRole.UserRole)
            item.setCheckState(Qt.CheckState.Checked if name in shown else Qt.CheckState.Unchecked)
            item.setToolTip(tips[name])
            if name == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def _items(self) -> list[QListWidgetItem]:
        return [self.list.item(row) for row in range(self.list.count())]

    def names(self) -> list[str]:
        return [item.data(Qt.ItemDataRole.UserRole) for item in self._items()]

    def shown(self) -> list[str]:
        """Names of the ticked rows, in list order."""
        return [
            item.data(Qt.ItemDataRole.UserRole) for item in self._items() if item.checkState() == Qt.CheckState.Checked
        ]

    def set_shown(self, name: str, shown: bool) -> None:
        for item in self._items():
            if item.data(Qt.ItemDataRole.UserRole) == name:
                item.setCheckState(Qt.CheckState.Checked if shown else Qt.CheckState.Unchecked)

    def current(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)
