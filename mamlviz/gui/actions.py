"""The window's actions, menus and toolbar, and the Help ▸ Keyboard shortcuts table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QMessageBox

import mamlviz
from mamlviz.gui.controls import PRESETS
from mamlviz.gui.dialogs import about_box
from mamlviz.gui.files import CSV_TABLES, PNG_PLOTS

if TYPE_CHECKING:
    from mamlviz.gui.main_window import MainWindow

README = Path(mamlviz.__file__).resolve().parent.parent / "README.md"
"""The README of a source checkout, whose "The desktop explorer" section walks through the window."""


class Actions:
    """Every QAction of the window, by name (`window.actions.start.trigger()`)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        w, files, run = window, window.files, window.training
        a = self._action
        key = QKeySequence.StandardKey
        self.open_init = a(
            "Open initialization…",
            lambda: files.open_initialization(),
            key.Open,
            "Load a .safetensors initialization as a new row (sinusoid or Omniglot)",
        )
        self.export_init = a(
            "Export initialization…",
            lambda: files.export_initialization(),
            "Ctrl+E",
            "Save the highlighted initialization of the compare list as .safetensors",
        )
        self.export_baseline = a(
            "Export baseline initialization…",
            lambda: files.export_initialization("pretrained"),
            "Ctrl+Shift+E",
            "Save the shipped pretrained baseline initialization as .safetensors",
        )
        self.export_omniglot = a(
            "Export trained Omniglot initialization…",
            lambda: files.export_omniglot(),
            None,
            "Save the Omniglot initialization meta-trained in this app as .safetensors",
        )
        self.save_session = a(
            "Save session…",
            lambda: files.save_session(),
            key.Save,
            "Save settings, task, points and initializations to a JSON session",
        )
        self.open_session = a("Open session…", lambda: files.open_session(), "Ctrl+Shift+O", "Restore a saved session")
        self.quit = a("Quit", w.close, key.Quit, "Quit mamlviz")
        self.start = a(
            "Start", w.start_training, "F5", "Meta-train the chosen algorithm and the pretrained baseline side by side"
        )
        self.pause = a("Pause", run.toggle_pause, "Space", "Pause or resume training")
        self.stop = a("Stop", run.stop, "Shift+F5", "Stop training and keep what was learned")
        self.reset = a(
            "Reset",
            w.reset_training,
            "Ctrl+Shift+R",
            "Stop, clear the monitor and go back to the shipped initializations (asks first)",
        )
        self.random = a("Random task", w.random_task, "R", "Draw a new true sinusoid with K fresh points")
        self.sample = a(
            "Sample K points", lambda: w.sample_points(), "S", "Replace the points by K samples of the true curve"
        )
        self.clear = a(
            "Clear points", lambda: w.state.set_points([]), "Ctrl+Shift+Backspace", "Remove every support point"
        )
        self.undo = a("Undo point edit", w.state.undo, key.Undo, "Take back the last point edit")
        self.redo = a("Redo point edit", w.state.redo, key.Redo, "Redo the point edit taken back")
        self.compare = a(
            "Compare ticked initializations…",
            lambda: w.compare_initializations(),
            "Ctrl+T",
            "Evaluate the ticked initializations on 600 tasks (K = 5 and 10), as `mamlviz eval` does",
        )
        self.shortcuts = a("Keyboard shortcuts", self.show_shortcuts, "F1", "Every keyboard shortcut of the window")
        self.guide = a(
            "User guide (README)", self.open_guide, None, "Open the README's walk-through of the window in a browser"
        )
        self.about = a("About mamlviz", self.show_about, None, "Versions and device")
        self.export_omniglot.setEnabled(False)
        for action in (self.random, self.sample):  # the playground's keys, wherever the focus is in its tab
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.insights = window.insights_dock.toggleViewAction()
        self.insights.setShortcut(QKeySequence("Ctrl+I"))
        self.insights.setToolTip(
            "Show the Insights panel: gradient flow, feature reuse, stability, task map, α (Ctrl+I)"
        )

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut is not None else tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.window.addAction(action)
        return action

    def open_guide(self) -> None:
        """The README in the desktop's viewer, or where to find it when this install has none."""
        if not (README.is_file() and QDesktopServices.openUrl(QUrl.fromLocalFile(str(README)))):
            self.window.report(
                "User guide", "The guide is the README's section 'The desktop explorer', beside the source code."
            )

    def show_about(self) -> None:
        """Help ▸ About: versions and the training device (kept as `window.last_about`)."""
        self.window.last_about = about_box(self.window, self.window.training.device)

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every action with a shortcut."""
        actions = [value for value in vars(self).values() if isinstance(value, QAction)]
        return [(a.shortcut().toString(), a.text().rstrip("…")) for a in actions if not a.shortcut().isEmpty()]

    def show_shortcuts(self) -> QMessageBox:
        rows = "".join(
            f"<tr><td><b>{keys}</b>&nbsp;&nbsp;</td><td>{what}</td></tr>" for keys, what in self.shortcut_rows()
        )
        extra = "<p>On the playground: click to add a point, drag to move it, right-click or Delete removes it.</p>"
        box = QMessageBox(
            QMessageBox.Icon.NoIcon,
            "Keyboard shortcuts",
            f"<table>{rows}</table>{extra}",
            QMessageBox.StandardButton.Close,
            self.window,
        )
        box.setObjectName("shortcuts_box")
        box.open()
        self.last_box = box
        return box

    def build_menus(self) -> None:
        w = self.window
        bar = w.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.open_init, self.export_init, self.export_baseline, self.export_omniglot])
        file_menu.addSeparator()
        file_menu.addActions([self.open_session, self.save_session])
        self.recent_menu = file_menu.addMenu("Open recent")
        w.files.recent_changed.connect(self.rebuild_recent)
        self.rebuild_recent()
        file_menu.addSeparator()
        png, csv = file_menu.addMenu("Export plot as PNG"), file_menu.addMenu("Export data as CSV")
        for key, label in PNG_PLOTS.items():
            png.addAction(label, lambda k=key: w.files.export_png(k))
        for key, label in CSV_TABLES.items():
            csv.addAction(label, lambda k=key: w.files.export_csv(k))
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        training = bar.addMenu("&Training")
        training.addActions([self.start, self.pause, self.stop, self.reset])
        presets = training.addMenu("Presets")
        for name in PRESETS:
            presets.addAction(name, lambda n=name: w.controls.training.apply_preset(n))
        playground = bar.addMenu("&Playground")
        playground.addActions([self.undo, self.redo])
        playground.addSeparator()
        playground.addActions([self.random, self.sample, self.clear])
        playground.addSeparator()
        playground.addAction(self.compare)
        view = bar.addMenu("&View")
        view.addAction(w.controls_dock.toggleViewAction())
        view.addAction(w.monitor_dock.toggleViewAction())
        view.addAction(self.insights)
        view.addSeparator()
        self.log_y = view.addAction("Log-scale loss axis")
        self.log_y.setCheckable(True)
        self.log_y.setChecked(w.monitor.losses.log_y.isChecked())
        self.log_y.toggled.connect(w.monitor.losses.log_y.setChecked)
        w.monitor.losses.log_y.toggled.connect(self.log_y.setChecked)
        self.ghost = view.addAction("Faint curve after every step")
        self.ghost.setCheckable(True)
        self.ghost.toggled.connect(w.controls.adapt.show_steps.setChecked)
        w.controls.adapt.show_steps.toggled.connect(self.ghost.setChecked)
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.shortcuts, self.guide])
        help_menu.addSeparator()
        help_menu.addAction(self.about)

    def build_toolbar(self) -> None:
        toolbar = self.window.addToolBar("Main")
        toolbar.setObjectName("main_toolbar")
        toolbar.addActions([self.start, self.pause, self.stop, self.reset])
        toolbar.addSeparator()
        toolbar.addActions([self.random, self.sample, self.clear])
        toolbar.addSeparator()
        toolbar.addActions([self.open_init, self.export_init])
        toolbar.addSeparator()
        toolbar.addActions([self.compare, self.insights])

    def rebuild_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.window.files.recent_files():
            self.recent_menu.addAction(
                path.rsplit("/", 1)[-1], lambda p=path: self.window.files.open_recent(p)
            ).setToolTip(path)
        self.recent_menu.setEnabled(bool(self.window.files.recent_files()))

    def update_run_state(self) -> None:
        run = self.window.training
        self.start.setEnabled(not run.running and not run.building)
        self.pause.setEnabled(run.running)
        self.pause.setText("Resume" if run.paused else "Pause")
        self.stop.setEnabled(run.running)
        for action in (self.open_init, self.open_session):
            action.setEnabled(not run.running)

    def update_history(self) -> None:
        state = self.window.state
        self.undo.setEnabled(bool(state.undo_stack))
        self.redo.setEnabled(bool(state.redo_stack))
