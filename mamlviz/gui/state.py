"""The application state: one QObject that owns what the panels show, and says when it changes.

It holds every initialization (of every domain) under a unique name, which ones are ticked, which one is
primary (exported by default), which were trained here and not yet kept; the playground's task, support points
(with their undo history) and adaptation settings α, k. Panels read it, subscribe to its signals and call its
methods as intents; they keep no copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from mamlviz.core.algorithms import InnerLoop
from mamlviz.core.checkpoint import Initialization
from mamlviz.core.data import Truth, check_points
from mamlviz.core.errors import MamlvizError
from mamlviz.core.model import Params

HISTORY = 200
"""Point edits that can be undone."""


@dataclass(frozen=True)
class Adaptation:
    """How the playground adapts: step size α, number of steps k, and whether every step is drawn."""

    lr: float = 0.01
    steps: int = 10
    show_steps: bool = False


class AppState(QObject):
    """The one source of truth of the window (see the module docstring)."""

    inits_changed = Signal()
    """Initializations were added, replaced or removed, or the primary one changed."""
    shown_changed = Signal()
    """The ticked initializations changed."""
    truth_changed = Signal()
    points_changed = Signal()
    adaptation_changed = Signal()
    history_changed = Signal()
    """What can be undone or redone changed."""
    unsaved_changed = Signal()
    problem = Signal(str)
    """An intent was refused; the sentence says why (the state is unchanged)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.inits: dict[str, Initialization] = {}
        self.shown: list[str] = []
        self.primary: str | None = None
        self.unsaved: set[str] = set()
        self.source = ""
        """Where the initializations came from, in words (status bar)."""
        self.truth: Truth | None = None
        self.points = np.zeros((0, 2))
        self.adaptation = Adaptation()
        self.undo_stack: list[np.ndarray] = []
        self.redo_stack: list[np.ndarray] = []

    # ---- initializations ------------------------------------------------------------------------------------------
    def inits_of(self, domain: str) -> dict[str, Initialization]:
        return {name: init for name, init in self.inits.items() if init.config.domain == domain}

    def shown_of(self, domain: str) -> dict[str, Initialization]:
        """The ticked initializations of `domain`, in list order."""
        return {name: self.inits[name] for name in self.shown if self.inits[name].config.domain == domain}

    def loops(self, names: Iterable[str]) -> dict[str, InnerLoop]:
        """How each named initialization adapts in the playground (α itself comes from `adaptation`)."""
        return {name: self.inits[name].inner_loop() for name in names}

    def free_name(self, wanted: str) -> str:
        """`wanted`, or `wanted 2`, `wanted 3`… if taken."""
        name, n = wanted, 1
        while name in self.inits:
            n += 1
            name = f"{wanted} {n}"
        return name

    def replace_inits(
        self, inits: Mapping[str, Initialization], source: str, shown: Iterable[str], primary: str | None = None
    ) -> None:
        """Start over with `inits` (shipped ones, or a session's); an initialization carried over unchanged stays
        unsaved, the others are kept by their file."""
        old, self.inits = self.inits, dict(inits)
        self.source = source
        self.primary = primary if primary in self.inits else next(iter(self.inits), None)
        self.unsaved = {name for name in self.unsaved if name in old and self.inits.get(name) is old[name]}
        self.shown = [name for name in self.inits if name in set(shown)]
        self.inits_changed.emit()
        self.shown_changed.emit()
        self.unsaved_changed.emit()

    def put_init(
        self, name: str, init: Initialization, *, show: bool = True, primary: bool = False, unsaved: bool = False
    ) -> None:
        """Add or replace the initialization called `name`."""
        self.inits[name] = init
        if primary:
            self.primary = name
        if unsaved:
            self.unsaved.add(name)
            self.unsaved_changed.emit()
        self.inits_changed.emit()
        if show and name not in self.shown:
            self.set_shown([*self.shown, name])
        elif name in self.shown:
            self.shown_changed.emit()  # same name, new weights: the views redraw

    def set_shown(self, names: Iterable[str]) -> None:
        shown = [name for name in dict.fromkeys(names) if name in self.inits]
        if shown != self.shown:
            self.shown = shown
            self.shown_changed.emit()

    def set_primary(self, name: str) -> None:
        if name in self.inits and name != self.primary:
            self.primary = name
            self.inits_changed.emit()

    def mark_kept(self, names: Iterable[str]) -> None:
        """These initializations were exported or saved in a session."""
        kept = self.unsaved & set(names)
        if kept:
            self.unsaved -= kept
            self.unsaved_changed.emit()

    def shown_params(self, domain: str) -> dict[str, Params]:
        return {name: init.params for name, init in self.shown_of(domain).items()}

    # ---- task, points, adaptation ---------------------------------------------------------------------------------
    def set_truth(self, truth: Truth | None) -> None:
        if truth != self.truth:
            self.truth = truth
            self.truth_changed.emit()

    def set_adaptation(self, lr: float, steps: int, show_steps: bool) -> None:
        adaptation = Adaptation(float(lr), int(steps), bool(show_steps))
        if adaptation != self.adaptation:
            self.adaptation = adaptation
            self.adaptation_changed.emit()

    def set_points(self, points: object, *, undoable: bool = True) -> bool:
        """Replace every point; refuses NaN or huge coordinates with a `problem` and keeps the old ones."""
        try:
            checked = check_points(points)
        except MamlvizError as exc:
            self.problem.emit(str(exc))
            return False
        if np.array_equal(checked, self.points):
            return True
        if undoable:
            self.remember()
        self.points = checked
        self.points_changed.emit()
        return True

    def add_point(self, x: float, y: float) -> None:
        self.set_points(np.vstack([self.points, [x, y]]))

    def move_point(self, index: int, x: float, y: float) -> None:
        """One step of a drag (the drag as a whole is one edit: `remember()` when it starts)."""
        points = self.points.copy()
        points[index] = (x, y)
        self.set_points(points, undoable=False)

    def remove_point(self, index: int) -> None:
        if -len(self.points) <= index < len(self.points):
            self.set_points(np.delete(self.points, index, axis=0))

    def remember(self) -> None:
        """Keep the current points for Undo (a new edit forgets what could be redone)."""
        self.undo_stack = [*self.undo_stack[-(HISTORY - 1) :], self.points.copy()]
        self.redo_stack = []
        self.history_changed.emit()

    def undo(self) -> None:
        """Back to the points before the last edit."""
        if self.undo_stack:
            self.redo_stack.append(self.points.copy())
            self.points = self.undo_stack.pop()
            self.points_changed.emit()
            self.history_changed.emit()

    def redo(self) -> None:
        """Again the edit the last Undo took back."""
        if self.redo_stack:
            self.undo_stack.append(self.points.copy())
            self.points = self.redo_stack.pop()
            self.points_changed.emit()
            self.history_changed.emit()
