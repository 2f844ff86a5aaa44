"""Issue #12, items 1 and 15: the README's system libraries and its plain-PyTorch snippets."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mamlviz.gui import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _apt_lines() -> list[list[str]]:
    return [line.split()[2:] for line in README.splitlines() if line.startswith("apt-get install lib")]


def test_readme_lists_every_library_of_the_xcb_plugin():
    """The libraries ldd found missing on a bare Debian 12 (Qt blamed libxcb-cursor0) are in the README's list."""
    packages = {name for line in _apt_lines() for name in line}
    for needed in ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxkbcommon-x11-0", "libglib2.0-0"):
        assert needed in packages
    assert set(app.XCB_PACKAGES.split()) <= packages  # the app's advice is the README's list
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "libqxcb.so" in ci and "not found" in ci and "README.md" in ci


def test_ldd_finds_the_xcb_plugins_libraries_here():
    """What CI checks: with the README's list installed, nothing of the xcb plugin is missing."""
    if not sys.platform.startswith("linux"):
        pytest.skip("ldd is Linux only")
    assert app.missing_xcb_libraries() == []


def test_launch_names_the_missing_library_before_qt_aborts(monkeypatch, capsys):
    monkeypatch.setattr(app, "missing_xcb_libraries", lambda: ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    assert app.main([]) == app.USAGE_ERROR
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1
    assert "libxcb-icccm.so.4" in message and "libxcb-keysyms.so.1" in message
    assert "apt-get install" in message and "libxcb-icccm4" in message


def test_offscreen_and_a_complete_system_are_not_stopped(monkeypatch):
    monkeypatch.setattr(app, "missing_xcb_libraries", lambda: ["libxcb-icccm.so.4"])
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert app.xcb_problem() is None
    monkeypatch.setattr(app, "missing_xcb_libraries", lambda: [])
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert app.xcb_problem() is None


@pytest.mark.parametrize(
    "snippet",
    [s for s in re.findall(r"```python\n(.*?)```", README, flags=re.S) if "load_file" in s],
    ids=lambda s: s.splitlines()[0][:40],
)
def test_readme_pytorch_snippets_run_as_written(snippet):
    """Item 15: each plain-PyTorch snippet runs from a fresh clone (no exported file needed), without mamlviz.
    A snippet that takes the user's data (the Omniglot one: `support`, `labels`, `queries`, shapes in its comment)
    gets random data of those shapes."""
    inputs = ""
    if re.search(r"\bsupport\b", snippet) and "support =" not in snippet:
        inputs = (
            "import torch as _t\n"
            "support, labels, queries = _t.rand(5, 1, 28, 28), _t.arange(5), _t.rand(3, 1, 28, 28)\n"
        )
    code = inputs + snippet + "\nimport sys\nassert 'mamlviz' not in sys.modules\nprint('snippet ok')\n"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "snippet ok" in result.stdout
