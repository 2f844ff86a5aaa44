"""Entry point of the desktop app: `mamlviz`, `mamlviz gui ...` and `mamlviz-gui`."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import NoReturn

import torch

from mamlviz.core.allocator import keep_large_blocks_on_heap

USAGE_ERROR = 2
SCREENSHOT_WAIT_S = 180.0
"""How long `--screenshot` waits for the window's background work (loading, adapting) before it renders."""


def parse_points(text: str) -> list[tuple[float, float]]:
    """'x,y;x,y;...' -> [(x, y), ...], with a clear message for anything else."""
    points = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        try:
            x, y = (float(v) for v in part.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"points must look like 'x,y;x,y;...', got {part!r}") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise argparse.ArgumentTypeError(f"point coordinates must be finite numbers, got {part!r}")
        points.append((x, y))
    return points


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1400x900, got {text!r}") from None
    return width, height


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mamlviz gui", description="Open the mamlviz desktop explorer.")
    parser.add_argument("--screenshot", type=Path, metavar="FILE.png", help="render the window to a PNG and exit")
    parser.add_argument(
        "--train-iters",
        type=_non_negative,
        default=0,
        metavar="N",
        help="with --screenshot: meta-train N iterations first",
    )
    parser.add_argument("--points", type=parse_points, metavar="'x,y;...'", help="support points to place")
    parser.add_argument("--size", type=_size, default=(1400, 900), metavar="WxH", help="window size (1400x900)")
    parser.add_argument("--open", type=Path, metavar="FILE", help="an initialization (.safetensors) or session (.json)")
    return parser


def warm_up_torch() -> None:
    """One tiny optimizer step (its first use imports a lot), run in the background once the window has shown,
    and numpy.ma (np.percentile imports it on first use, 40 ms, for the loss plot's y-range).

    Otherwise the worker's first optimizer step stalls the GUI, or the window opens seconds later.
    """
    import numpy.ma  # noqa: F401

    torch.set_num_threads(1)
    weight = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.Adam([weight], lr=0.1)
    (weight.sum() ** 2).backward()
    optimizer.step()


def exit_now(status: int, window) -> NoReturn:
    """End the process once the window has closed and joined its threads, skipping the interpreter's teardown:
    freeing torch's modules took 1.1–2.8 s here after the window had gone (measured with a plain
    `python -c "import torch"` as well), during which the app looked hung."""
    window.settings.sync()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def close_on_interrupt(window) -> None:
    """Ctrl-C or SIGTERM in the terminal closes the window as its Quit does (asking to keep trained models).

    Python runs signal handlers only between bytecodes, so a timer gives the interpreter a turn every 200 ms
    while Qt's event loop waits."""
    import signal

    from PySide6.QtCore import QTimer

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: window.close())
    window.interrupt_timer = QTimer(window)
    window.interrupt_timer.timeout.connect(lambda: None)
    window.interrupt_timer.start(200)


# The libraries Qt's xcb platform plugin links against (Debian 12 package names); the README's apt line is this list.
XCB_PACKAGES = (
    "libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-render0 "
    "libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0 libx11-xcb1"
)


def missing_xcb_libraries() -> list[str]:
    """The shared libraries (sonames) that Qt's xcb platform plugin needs and the dynamic linker cannot find.

    Qt itself blames libxcb-cursor0 whatever is missing and then aborts; `ldd` names the real gap. Empty when
    nothing is missing, or when the check cannot be made (no ldd, no plugin)."""
    import shutil
    import subprocess

    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    ldd = shutil.which("ldd")
    if ldd is None or not plugin.is_file():
        return []
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.split()[0] for line in out.splitlines() if "not found" in line]


def xcb_problem() -> str | None:
    """One sentence naming the missing libraries, when Qt is about to load the xcb plugin and cannot; else None."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform not in ("", "xcb") or not os.environ.get("DISPLAY"):
        return None
    if platform == "" and os.environ.get("WAYLAND_DISPLAY"):
        return None
    missing = missing_xcb_libraries()
    if not missing:
        return None
    return (
        f"error: Qt's xcb platform cannot load: {', '.join(missing)} not found; "
        f"install them with: apt-get install {XCB_PACKAGES}"
    )


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))


def main(argv: list[str] | None = None) -> int:
    """Run the app; returns the exit status."""
    keep_large_blocks_on_heap()  # see core/allocator.py
    argv = list(sys.argv[1:] if argv is None else argv)
    for i, arg in enumerate(argv[:-1]):
        if arg == "--points":  # let "--points -3,1;..." through: argparse takes "-3,1" for an option
            argv[i : i + 2] = [f"--points={argv[i + 1]}"]
            break
    args = build_parser().parse_args(argv)
    if args.screenshot is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    elif sys.platform.startswith("linux") and not _has_display():
        print("error: no display found (DISPLAY/WAYLAND_DISPLAY unset); use --screenshot FILE.png", file=sys.stderr)  # noqa: T201
        return USAGE_ERROR
    elif (problem := xcb_problem()) is not None:
        print(problem, file=sys.stderr)  # noqa: T201
        return USAGE_ERROR
    torch.set_num_threads(1)
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from mamlviz.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("mamlviz")
    app.setOrganizationName("mamlviz")
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    window = MainWindow(warm_up=warm_up_torch if args.screenshot is None else None)  # a screenshot exits at once
    window.resize(*args.size)
    if args.open is not None:
        opened = (
            window.files.open_session(str(args.open))
            if args.open.suffix == ".json"
            else window.files.open_initialization(str(args.open))
        )
        if not opened and args.screenshot is not None:
            print(f"error: cannot open {args.open}", file=sys.stderr)  # noqa: T201
            return USAGE_ERROR
    if args.points is not None:
        window.state.set_points(args.points)
    window.show()
    if args.screenshot is None:
        close_on_interrupt(window)
        return exit_now(app.exec(), window)
    return take_screenshot(app, window, args.screenshot, args.train_iters)


def settle(app, timeout_s: float, quiet_s: float = 0.3) -> bool:
    """Process events until no background job has run or waited for `quiet_s` (a finished job's handler may start
    the next one, a timer may submit one later); returns False if that took more than `timeout_s`."""
    from mamlviz.gui.jobs import JobRunner

    deadline = time.monotonic() + timeout_s
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        app.processEvents()
        if not JobRunner.all_idle():
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return True
        time.sleep(0.01)
    return False


def take_screenshot(app, window, path: Path, train_iters: int) -> int:
    """Optionally train N iterations with the real worker, then render the window to `path`."""
    from PySide6.QtCore import QEventLoop

    window.ask_before_closing = False  # a screenshot keeps nothing: no question on the way out
    if train_iters:
        window.controls.training.iterations.setValue(train_iters)
        loop = QEventLoop()
        window.training.finished.connect(loop.quit)
        window.training.failed.connect(lambda *_: loop.quit())
        window.start_training()
        if window.training.running or window.training.building:
            loop.exec()
    if not settle(app, SCREENSHOT_WAIT_S):
        print(  # noqa: T201
            f"note: background work was still running after {SCREENSHOT_WAIT_S:.0f} s; the picture shows it unfinished",
            file=sys.stderr,
        )
    if not window.grab().save(str(path)):
        print(f"error: could not write {path}", file=sys.stderr)  # noqa: T201
        window.close()
        return USAGE_ERROR
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
