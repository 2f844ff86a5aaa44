"""Time for `mamlviz gui` to open: process start to window built with the shipped initializations.

Runs `python -m mamlviz gui --screenshot FILE` (offscreen) several times in fresh processes; that
wall time is an upper bound of the launch time (it also renders the PNG and exits). Prints the
median and each run.  Run: python benchmarks/bench_gui_startup.py [--runs 5]
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    shot = Path(tempfile.mkdtemp()) / "startup.png"
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "mamlviz", "gui", "--screenshot", str(shot)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    print(
        f"`mamlviz gui --screenshot` (launch, build window with shipped inits, render, exit): median "
        f"{np.median(times):.2f} s over {len(times)} runs ({', '.join(f'{t:.2f}' for t in times)})"
    )


if __name__ == "__main__":
    main()
