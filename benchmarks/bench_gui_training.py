"""Training inside the app versus headless, and GUI event-loop stalls while training runs.

One script run measures, on the same config (paper settings, N iterations):
  * headless: `Trainer(cfg).iterate()` as `mamlviz train` runs it (MAML only), and with the baseline;
  * in the app: Start → training_finished, MAML + pretrained side by side, plots updating;
  * stalls: a 5 ms QTimer on the GUI thread during the in-app run; stall = tick gap − 5 ms.
Headless runs are done before and after the app run and averaged (the machine is shared).
Run: python benchmarks/bench_gui_training.py [--iters 1500]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from gui_harness import make_window
from PySide6.QtCore import QEventLoop, QTimer

from mamlviz.core.train import Trainer


def headless_rate(cfg, with_baseline: bool) -> float:
    trainer = Trainer(cfg, with_baseline=with_baseline)
    start = time.perf_counter()
    for _ in trainer.iterate():
        pass
    return cfg.iterations / (time.perf_counter() - start)


def app_run(app, window, iterations: int) -> tuple[float, np.ndarray]:
    window.controls.training.iterations.setValue(iterations)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    loop = QEventLoop()
    window.training_finished.connect(loop.quit)
    start = time.perf_counter()
    window.start_training()
    last[0] = time.perf_counter()
    timer.start()
    loop.exec()
    elapsed = time.perf_counter() - start
    timer.stop()
    stalls = np.maximum(np.array(gaps) - 0.005, 0) * 1000
    return iterations / elapsed, stalls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iters", type=int, default=1500)
    args = parser.parse_args()
    app, window = make_window()
    window.controls.training.iterations.setValue(args.iters)
    cfg = window.controls.training.config()
    maml_only = [headless_rate(cfg, False)]
    both = [headless_rate(cfg, True)]
    in_app, stalls = app_run(app, window, args.iters)
    both.append(headless_rate(cfg, True))
    maml_only.append(headless_rate(cfg, False))
    window.close()
    print(
        f"config: {cfg.algo}, {cfg.iterations} iterations, meta-batch {cfg.meta_batch}, validation every "
        f"{cfg.val_every}"
    )
    print(
        f"headless `mamlviz train` loop (MAML only): {np.mean(maml_only):.1f} it/s  (runs: "
        f"{', '.join(f'{r:.1f}' for r in maml_only)})"
    )
    print(
        f"headless MAML + pretrained:               {np.mean(both):.1f} it/s  (runs: "
        f"{', '.join(f'{r:.1f}' for r in both)})"
    )
    print(f"in the app, MAML + pretrained, plots live: {in_app:.1f} it/s")
    print(f"in-app / headless (same work, MAML + pretrained): {in_app / np.mean(both):.0%}")
    print(f"in-app / headless `mamlviz train` (MAML only):    {in_app / np.mean(maml_only):.0%}")
    print(
        f"GUI event-loop stalls during training ({len(stalls)} ticks of a 5 ms timer): "
        f"median {np.median(stalls):.1f} ms, p99 {np.percentile(stalls, 99):.1f} ms, max {stalls.max():.1f} ms"
    )


if __name__ == "__main__":
    main()
