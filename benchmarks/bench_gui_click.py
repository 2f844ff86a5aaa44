"""Click-to-redrawn-curves latency in the playground: 10 adaptation steps, MAML and pretrained.

Each sample: a real mouse click on the plot at random data coordinates, the point added, both
initializations adapted, every curve updated, then the event loop run until both plots have
painted what changed (Qt's own partial repaint, as in the app; paint events are recorded to be
sure each of the two plots was repainted). Prints median and p95 in milliseconds, and, for comparison, the
latency with a forced full repaint of both plots.  Run: python benchmarks/bench_gui_click.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from gui_harness import make_window
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt
from PySide6.QtTest import QTest

PAINT_TIMEOUT_S = 2.0


class PaintRecorder(QObject):
    """Records which of the widgets it filters have received a paint event."""

    def __init__(self) -> None:
        super().__init__()
        self.painted: set[int] = set()

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.painted.add(id(watched))
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clicks", type=int, default=200, help="clicks per method")
    args = parser.parse_args()
    app, window = make_window()
    plot = window.playground.plot
    vb = plot.getPlotItem().getViewBox()
    rng = np.random.default_rng(0)
    window.state.set_points([[-3, 1], [-1, 2], [0.5, 1.5], [2, -1], [4, -2]])
    base = window.state.points.copy()
    assert window.state.adaptation.steps == 10
    assert set(window.state.shown_params("sinusoid")) == {"maml", "pretrained"}
    painted = PaintRecorder()
    for view in (plot, window.playground.mse_plot):
        view.viewport().installEventFilter(painted)
    latencies, updates, full, unpainted = [], [], [], 0
    for i in range(2 * args.clicks):
        x, y = rng.uniform(-4.5, 4.5), rng.uniform(-4.5, 4.5)
        while np.hypot(*(base - [x, y]).T).min() < 0.6:  # a click on a point selects it instead of adding one
            x, y = rng.uniform(-4.5, 4.5), rng.uniform(-4.5, 4.5)
        pos = plot.mapFromScene(vb.mapViewToScene(QPointF(x, y)))
        painted.painted.clear()
        start = time.perf_counter()
        QTest.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(pos))
        clicked = time.perf_counter()
        if i % 2:  # forced full repaint of both plots
            plot.viewport().repaint()
            window.playground.mse_plot.viewport().repaint()
            full.append((time.perf_counter() - start) * 1000)
        else:  # what the app does: Qt repaints the changed regions from the event loop
            while len(painted.painted) < 2 and time.perf_counter() - start < PAINT_TIMEOUT_S:
                app.processEvents()
            if len(painted.painted) < 2:  # a plot whose picture did not change is not repainted: not a latency sample
                unpainted += 1
            else:
                latencies.append((time.perf_counter() - start) * 1000)
                updates.append((clicked - start) * 1000)
        assert len(window.state.points) == len(base) + 1, f"click {i} at ({x:.2f}, {y:.2f}) did not add a point"
        window.state.set_points(base)
        app.processEvents()
    window.close()
    ms = np.array(latencies)
    print(
        f"click -> redrawn curves (10 steps, 2 models, K=6, {len(ms)} clicks): "
        f"median {np.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, max {ms.max():.1f} ms "
        f"(of which click handling + adaptation + setData: median {np.median(updates):.1f} ms; "
        f"with a forced full repaint of both plots instead: median {np.median(full):.1f} ms)"
        + (f"; {unpainted} clicks left a plot unrepainted after {PAINT_TIMEOUT_S} s, not counted" if unpainted else "")
    )


if __name__ == "__main__":
    main()
