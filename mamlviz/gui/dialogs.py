"""Error and information dialogs: one clear sentence, details behind a button, never blocking the app."""

from __future__ import annotations

import platform

import numpy as np
import pyqtgraph as pg
import PySide6
import torch
from PySide6.QtWidgets import QMessageBox, QWidget

import mamlviz


def error_box(parent: QWidget, title: str, message: str, details: str = "") -> QMessageBox:
    """Show a window-modal error (opened, not exec'd, so tests and the event loop keep running)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.setObjectName("error_box")
    box.open()
    return box


def versions_text(device: str) -> str:
    return (
        f"<b>mamlviz {mamlviz.__version__}</b><br>"
        "A visual explorer for Model-Agnostic Meta-Learning (Finn, Abbeel &amp; Levine 2017).<br><br>"
        f"Python {platform.python_version()} · PySide6 {PySide6.__version__} · pyqtgraph {pg.__version__}<br>"
        f"PyTorch {torch.__version__} · NumPy {np.__version__}<br>"
        f"Training device: {device} · CUDA available: {'yes' if torch.cuda.is_available() else 'no'}"
    )


def about_box(parent: QWidget, device: str) -> QMessageBox:
    box = QMessageBox(
        QMessageBox.Icon.Information, "About mamlviz", versions_text(device), QMessageBox.StandardButton.Ok, parent
    )
    box.open()
    return box


def ask_discard(parent: QWidget, lost: list[str]) -> bool:
    """Whether the user agrees to discard these trained, unkept initializations (Reset)."""
    buttons = QMessageBox.StandardButton
    text = f"Reset discards what was trained here and not kept: {', '.join(sorted(lost))}."
    answer = QMessageBox.question(
        parent, "Discard trained initializations?", text, buttons.Discard | buttons.Cancel, buttons.Cancel
    )
    return answer == buttons.Discard


def ask_keep_trained(parent: QWidget, unsaved: list[str], sinusoid: list[str]) -> QMessageBox.StandardButton | None:
    """On closing with unkept trained initializations: Save (a session), Discard, or None to stay open."""
    text = f"Trained here and not exported: {', '.join(unsaved)}."
    buttons = QMessageBox.StandardButton
    choices = buttons.Discard | buttons.Cancel
    if sinusoid:
        text += " Save a session to keep the sinusoid initializations?"
        choices |= buttons.Save
    if len(sinusoid) < len(unsaved):
        text += " Omniglot ones are kept by File ▸ Export trained Omniglot initialization… (Cancel to do it)."
    answer = QMessageBox.question(parent, "Keep what you trained?", text, choices, buttons.Cancel)
    return None if answer == buttons.Cancel else answer
