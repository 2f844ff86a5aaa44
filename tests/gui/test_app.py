"""The entry point, screenshot mode, and the PySide6 release we refuse."""

import sys

import pytest
from PySide6.QtGui import QImage

from mamlviz.gui.app import main, parse_points


def test_screenshot_mode_trains_places_points_and_writes_the_png(tmp_path, qapp):
    path = tmp_path / "shot.png"
    status = main(
        ["--screenshot", str(path), "--train-iters", "3", "--points", "-3,1;0,-2;2.5,1.5", "--size", "900x600"]
    )
    assert status == 0
    image = QImage(str(path))
    assert (image.width(), image.height()) == (900, 600)
    assert len({image.pixel(x, y) for x in range(0, 900, 7) for y in range(0, 600, 7)}) > 50  # not a blank frame


def test_points_argument_is_parsed_and_refused_clearly():
    assert parse_points("-3,1; 0,-2.5;") == [(-3.0, 1.0), (0.0, -2.5)]
    with pytest.raises(SystemExit) as exit_info:
        main(["--screenshot", "x.png", "--points", "1;2"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["--screenshot", "x.png", "--points", "nan,1"])


def test_installed_pyside6_is_not_the_broken_release():
    """PySide6 6.12.0 on Python 3.11 drops a reference to None on every void Qt call (qt.md); it must not be used."""
    import PySide6
    from PySide6 import QtCore

    broken = PySide6.__version__ == "6.12.0" and sys.version_info[:2] == (3, 11)
    assert not broken, "PySide6 6.12.0 crashes on Python 3.11 (none_dealloc); install 6.11.x"
    holder = QtCore.QObject()
    before = sys.getrefcount(None)
    for _ in range(1000):
        holder.setObjectName("x")
    assert sys.getrefcount(None) - before > -100
