"""Time for `mamlviz gui` to open: process start to the main window's first frame painted, with the shipped
initializations loaded and adapted in the playground.

Each run starts a fresh Python process that runs the app's `main` offscreen (screenshot mode, so no
display is needed), with the screenshot step replaced by an event loop that prints a marker line once
the window has painted its first frame; the time is measured from process launch to that line. Also
prints the wall time of a whole `mamlviz gui --screenshot` run (launch, render, save, exit).
Run: python benchmarks/bench_gui_startup.py [--runs 5] [--platform xcb]  (xcb: on a display, e.g. under xvfb-run)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHOWN = """
import mamlviz.gui.app as app
from mamlviz.gui.main_window import AfterFirstFrame
def painted(qapp, window):
    print("shown", flush=True)
    window.close()
    qapp.quit()
def shown(qapp, window, path, iters):
    AfterFirstFrame(window, lambda: painted(qapp, window))
    return qapp.exec()
app.take_screenshot = shown
raise SystemExit(app.main(["--screenshot", "unused.png"]))
"""


def time_to_shown(env: dict[str, str]) -> float:
    start, elapsed = time.perf_counter(), float("nan")
    process = subprocess.Popen([sys.executable, "-c", SHOWN], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.strip() == "shown":
            elapsed = time.perf_counter() - start
            break
    process.wait()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--platform", default="offscreen", help="Qt platform plugin (offscreen, xcb, ...)")
    args = parser.parse_args()
    env = dict(os.environ, QT_QPA_PLATFORM=args.platform)
    shown = [time_to_shown(env) for _ in range(args.runs)]
    shot = Path(tempfile.mkdtemp()) / "startup.png"
    whole = []
    for _ in range(args.runs):
        start = time.perf_counter()
        command = [sys.executable, "-m", "mamlviz", "gui", "--screenshot", str(shot)]
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        whole.append(time.perf_counter() - start)
    print(
        f"{args.platform}: process start -> main window's first frame painted (shipped inits loaded): "
        f"median {np.median(shown):.2f} s "
        f"({', '.join(f'{t:.2f}' for t in shown)})"
    )
    print(
        f"whole `mamlviz gui --screenshot` run (launch, render, save, exit): median {np.median(whole):.2f} s "
        f"({', '.join(f'{t:.2f}' for t in whole)})"
    )


if __name__ == "__main__":
    main()
