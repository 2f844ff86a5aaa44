"""The training monitor's TRPO panel (2D navigation): shown for the runs whose chunks carry TRPO's figures only."""

import numpy as np

from mamlviz.core.config import RLConfig
from mamlviz.gui.monitor import PANELS, TrainingMonitor, panel_for
from mamlviz.gui.worker import TrainingChunk


def chunk(losses: dict[str, list[float]], start: int = 1) -> TrainingChunk:
    n = len(next(iter(losses.values())))
    iterations = np.arange(start, start + n)
    return TrainingChunk(int(iterations[-1]), iterations, {k: np.array(v, dtype=float) for k, v in losses.items()})


NAV2D = {
    "maml/pre": [40.0, 38.0],
    "maml/post": [30.0, 29.0],
    "maml/return_pre": [-40.0, -38.0],
    "maml/kl": [0.0098, 0.0061],
    "maml/line_search": [0.0, -1.0],
}


def test_the_panel_is_registered_under_its_domain_and_chosen_by_the_figures_a_run_reports():
    panel = panel_for(list(NAV2D))
    assert panel is PANELS["nav2d"]
    assert panel_for(["maml/pre", "maml/post", "pretrained", "maml/K5/step1"]) is None  # a sinusoid run


def test_a_2d_navigation_run_shows_the_kl_and_the_line_search_per_iteration(qtbot):
    monitor = TrainingMonitor()
    qtbot.addWidget(monitor)
    monitor.reset(None, 10, 100, ["maml"])
    monitor.show()
    assert not monitor.metrics.isVisible()
    monitor.append(chunk(NAV2D))
    monitor.append(chunk({k: v[:1] for k, v in NAV2D.items()}, start=3))
    metrics = monitor.metrics
    assert metrics.isVisible()
    x, kl = metrics.values("maml/kl")
    assert list(x) == [1, 2, 3] and list(kl) == [0.0098, 0.0061, 0.0098]
    assert list(metrics.values("maml/line_search")[1]) == [0, -1, 0]
    low, high = metrics.plots["kl"].getPlotItem().viewRange()[1]
    assert low <= 0 and high >= RLConfig().max_kl  # the trust-region bound stays in view
    low, _ = metrics.plots["line_search"].getPlotItem().viewRange()[1]
    assert low < -1  # 'none' (no step accepted) stays in view
    assert not any(key.endswith(("/kl", "/line_search")) for key in monitor.losses.curves)
    monitor.reset(None, 10, 100, ["maml"])  # a new run: no panel until its chunks say which
    assert not metrics.isVisible() and not metrics.curves
    monitor.append(chunk({"maml/pre": [1.0], "maml/post": [0.5], "pretrained": [2.0]}))
    assert not metrics.isVisible()
