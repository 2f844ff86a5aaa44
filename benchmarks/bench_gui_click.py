"""Click-to-redrawn-curves latency in the playground: 10 adaptation steps, MAML and pretrained.

Each sample: a real mouse click on the plot at random data coordinates, the point added, both
initializations adapted, every curve updated and the plot repainted (synchronously). Prints the
median and p95 in milliseconds.  Run: python benchmarks/bench_gui_click.py [--clicks 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from gui_harness import make_window
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clicks", type=int, default=200)
    args = parser.parse_args()
    app, window = make_window()
    plot = window.playground.plot
    vb = plot.getPlotItem().getViewBox()
    rng = np.random.default_rng(0)
    window.playground.set_points([[-3, 1], [-1, 2], [0.5, 1.5], [2, -1], [4, -2]])
    base = window.playground.points.copy()
    assert window.playground.steps == 10
    assert set(window.playground.inits) == {"maml", "pretrained"}
    latencies, updates = [], []
    for _ in range(args.clicks):
        x, y = rng.uniform(-4.5, 4.5), rng.uniform(-4.5, 4.5)
        pos = plot.mapFromScene(vb.mapViewToScene(QPointF(x, y)))
        start = time.perf_counter()
        QTest.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(pos))
        updates.append((time.perf_counter() - start) * 1000)
        plot.viewport().repaint()
        window.playground.mse_plot.viewport().repaint()
        latencies.append((time.perf_counter() - start) * 1000)
        assert len(window.playground.points) == len(base) + 1, "click did not add a point"
        window.playground.set_points(base)
        app.processEvents()
    window.close()
    ms = np.array(latencies)
    print(
        f"click -> redrawn curves (10 steps, 2 models, K=6, {len(ms)} clicks): "
        f"median {np.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, max {ms.max():.1f} ms "
        f"(click handling + adaptation + setData alone: median {np.median(updates):.1f} ms)"
    )


if __name__ == "__main__":
    main()
