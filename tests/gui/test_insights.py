"""The insights panel computes each family view off the GUI thread on the shipped initializations, offscreen."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt

from mamlviz.core.algorithms import inner_loop_for
from mamlviz.core.checkpoint import load_initialization
from mamlviz.core.config import TaskConfig, TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.sinusoid import diagnostics, insights
from mamlviz.core.sinusoid.tasks import sample_tasks
from mamlviz.gui.insights import FLOW, MAP, REUSE, SENSITIVITY, STABILITY, InsightsPanel
from mamlviz.resources import SHIPPED_MAML, SHIPPED_PRETRAINED, resource_path

FILES = {
    "maml": SHIPPED_MAML,
    "pretrained": SHIPPED_PRETRAINED,
    "anil": "anil_sinusoid.safetensors",
    "metasgd": "metasgd_sinusoid.safetensors",
    "oracle": "oracle_sinusoid.safetensors",
}
POINTS = np.array([[-4.0, 1.2], [-1.5, -2.0], [0.3, 0.8], [2.2, 2.9], [4.1, -0.4]])
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def shipped():
    return {name: load_initialization(resource_path(file)) for name, file in FILES.items()}


@pytest.fixture
def family(shipped):
    return {name: shipped[name] for name in ("maml", "pretrained", "anil", "metasgd")}


@pytest.fixture
def panel(qtbot):
    """A shown panel whose computations are always finished in teardown."""
    widget = InsightsPanel()
    qtbot.addWidget(widget)
    widget.resize(900, 450)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    assert all(runner.stop(10.0) for runner in (widget.runner, widget.flow_runner)), "a computation did not finish"


def open_tab(qtbot, panel: InsightsPanel, title: str) -> None:
    """Show a tab and wait for its result (or error message) to land."""
    with qtbot.waitSignal(panel.computed, timeout=WAIT_MS, check_params_cb=lambda tab: tab == title):
        panel.show_tab(title)


def loop(init, lr=None):
    return inner_loop_for(init.config, init.inner_lrs, lr, algo=init.algorithm)


def started_tabs(panel: InsightsPanel) -> list[str]:
    tabs: list[str] = []
    panel.started.connect(tabs.append)
    return tabs


def test_tabs_have_titles_tooltips_and_a_training_hint(panel):
    titles = [panel.tabs.tabText(i) for i in range(panel.tabs.count())]
    assert titles == ["Gradient flow", "Feature reuse", "Stability", "Task map", "α sensitivity"]
    assert all(len(panel.tabs.tabToolTip(i)) > 40 for i in range(panel.tabs.count()))
    assert "Start training" in panel.captions[FLOW].text()


def test_only_the_visible_tab_is_computed(qtbot, panel, family):
    started = started_tabs(panel)
    panel.set_initializations(family)
    qtbot.wait(100)
    assert started == [] and not panel.busy
    open_tab(qtbot, panel, STABILITY)
    assert started == [STABILITY]
    assert panel.stale(SENSITIVITY) and not panel.stale(STABILITY)


def test_feature_reuse_measures_the_support_points(qtbot, panel, family, shipped):
    panel.set_initializations({**family, "oracle": shipped["oracle"]})
    panel.set_adaptation(0.01, 5)
    open_tab(qtbot, panel, REUSE)
    assert "Add support points" in panel.captions[REUSE].text()
    assert panel.reuse_view.bars == {}
    with qtbot.waitSignal(panel.computed, timeout=WAIT_MS):
        panel.set_support(POINTS)
    assert set(panel.reuse_view.bars) == {"maml", "pretrained", "anil", "metasgd"}
    for name in ("maml", "anil"):
        init = family[name]
        batch = insights.support_batch(POINTS, init.params["0.weight"])
        expected = diagnostics.weight_change(init.params, batch, loop(init, 0.01), 5)
        np.testing.assert_allclose(panel.reuse_view.bars[name].opts["height"], expected, rtol=1e-6)
    anil = panel.reuse_view.bars["anil"].opts["height"]
    assert anil[:2].tolist() == [0.0, 0.0] and anil[2] > 0
    caption = panel.captions[REUSE].text()
    assert "5 steps" in caption and "5 points" in caption and "skipped oracle" in caption


def test_stability_plots_meta_gradient_norms(qtbot, panel, family):
    panel.set_initializations(family)
    panel.set_adaptation(0.01, 10)
    open_tab(qtbot, panel, STABILITY)
    assert set(panel.stability_view.curves) == set(family)
    init = family["anil"]
    batch = sample_tasks(TaskConfig(shots=5, queries=10), 25, default_generator(0))
    expected = diagnostics.meta_gradient_norms(init.params, batch, loop(init, 0.01), 10)
    x, y = panel.stability_view.curves["anil"].getOriginalDataset()
    assert x.tolist() == list(range(1, 11))
    np.testing.assert_allclose(y, expected, rtol=1e-5)
    assert "25 fixed tasks" in panel.captions[STABILITY].text()


def test_task_map_shows_the_chosen_init_and_a_click_chooses_a_task(qtbot, panel, family):
    panel.set_initializations(family)
    panel.set_adaptation(0.01, 3)
    open_tab(qtbot, panel, MAP)
    assert panel.map_init.currentText() == "maml"
    view, task = panel.map_view, family["maml"].config.task
    amplitudes, phases = np.linspace(*task.amplitude, 20), np.linspace(*task.phase, 20)
    draws = [
        diagnostics.task_space_mse(family["maml"].params, task, loop(family["maml"], 0.01), 5, 3, amplitudes, phases, s)
        for s in range(4)
    ]
    expected = np.median(draws, axis=0)
    np.testing.assert_allclose(view.image.image, np.log10(expected).T, rtol=1e-5)
    with qtbot.waitSignal(panel.computed, timeout=WAIT_MS, check_params_cb=lambda tab: tab == MAP):
        panel.map_init.setCurrentText("anil")
    assert not np.allclose(view.mse, expected)
    view.plot.getPlotItem().vb.autoRange(padding=0)
    qtbot.wait(50)
    scene = view.plot.getPlotItem().vb.mapViewToScene(view.cell_center(15, 4))
    pos = view.plot.mapFromScene(scene)
    with qtbot.waitSignal(panel.task_chosen, timeout=2000) as blocker:
        qtbot.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))
    amplitude, phase = blocker.args
    assert (amplitude, phase) == pytest.approx((amplitudes[15], phases[4]))
    assert task.amplitude[0] <= amplitude <= task.amplitude[1] and task.phase[0] <= phase <= task.phase[1]


def test_lr_sensitivity_follows_the_playground(qtbot, panel, family):
    panel.set_initializations(family)
    panel.set_adaptation(0.01, 3)
    open_tab(qtbot, panel, SENSITIVITY)
    view = panel.sensitivity_view
    assert set(view.curves) == set(family)
    assert view.steps.value() == 3 and view.steps.text() == "after 3 steps"
    init = family["maml"]
    expected = diagnostics.lr_sensitivity(init.params, init.config.task, loop(init), 5, 10, insights.ALPHAS, 100)
    x, y = view.curves["maml"].getOriginalDataset()
    np.testing.assert_allclose(x, insights.ALPHAS)
    finite = np.isfinite(expected[:, 3])
    assert finite.sum() >= 3
    np.testing.assert_allclose(y[finite], expected[finite, 3], rtol=1e-5)
    panel.set_adaptation(0.1, 1)
    assert view.steps.text() == "after 1 step"
    assert view.reference.value() == pytest.approx(-1.0)
    assert not panel.busy, "moving α or the steps does not recompute the sensitivity"


def test_training_snapshots_add_gradient_flow_points_without_piling_up(qtbot, panel, family):
    cfg = TrainConfig(meta_batch=5, inner_steps=2)
    theta = family["maml"].params
    started = started_tabs(panel)
    with qtbot.waitSignal(panel.computed, timeout=WAIT_MS):
        panel.add_training_snapshot(10, theta, cfg)
        panel.add_training_snapshot(11, theta, cfg)  # the first one is still computing: skipped
    qtbot.waitUntil(lambda: not panel.busy, timeout=WAIT_MS)
    assert started == [FLOW]
    view = panel.flow_view
    assert view.iterations == [10]
    batch = sample_tasks(cfg.task, 5, default_generator(0))
    flow = diagnostics.gradient_flow(theta, batch, inner_loop_for(cfg), 2)
    np.testing.assert_allclose(view.second_curves["head"].getOriginalDataset()[1], [flow.second_order[2]], rtol=1e-5)
    np.testing.assert_allclose(view.cosine_curve.getOriginalDataset()[1], [flow.cosine], rtol=1e-5)
    assert "Iteration 10" in panel.captions[FLOW].text()
    with qtbot.waitSignal(panel.computed, timeout=WAIT_MS):
        panel.add_training_snapshot(20, theta, cfg)
    assert view.iterations == [10, 20]
    with qtbot.waitSignal(panel.computed, timeout=WAIT_MS):
        panel.add_training_snapshot(5, theta, dataclasses.replace(cfg, algo="anil"))
    assert view.iterations == [5], "a new run starts a new plot"


def test_a_failing_computation_shows_a_message_and_the_panel_goes_on(qtbot, panel, family, monkeypatch):
    def fail(*_args):
        raise RuntimeError("the meta-gradient exploded\nsecond line")

    monkeypatch.setattr(insights, "stability", fail)
    panel.set_initializations(family)
    open_tab(qtbot, panel, STABILITY)
    assert panel.captions[STABILITY].text() == "Stability could not be computed: the meta-gradient exploded."
    monkeypatch.undo()
    with qtbot.waitSignal(panel.computed, timeout=WAIT_MS):
        panel.set_adaptation(0.02, 10)
    assert set(panel.stability_view.curves) == set(family)
    assert "α = 0.02" in panel.captions[STABILITY].text()


def test_rapid_support_changes_coalesce(qtbot, panel, family):
    panel.set_initializations(family)
    panel.set_adaptation(0.01, 10)
    open_tab(qtbot, panel, REUSE)  # "add support points"
    started = started_tabs(panel)
    computed: list[str] = []
    panel.computed.connect(computed.append)
    for i in range(20):
        panel.set_support(POINTS * (1 + 0.05 * i))
    qtbot.waitUntil(lambda: not panel.busy and not panel.stale(REUSE), timeout=WAIT_MS)
    assert started == [REUSE, REUSE], "the first request runs, the last one waits; the others are dropped"
    assert computed == [REUSE, REUSE], "the first result is shown meanwhile, then the latest"
    assert "updating" not in panel.captions[REUSE].text()
    init = family["maml"]
    last = POINTS * (1 + 0.05 * 19)
    expected = diagnostics.weight_change(
        init.params, insights.support_batch(last, init.params["0.weight"]), loop(init, 0.01), 10
    )
    np.testing.assert_allclose(panel.reuse_view.bars["maml"].opts["height"], expected, rtol=1e-6)
    assert torch.get_num_threads() == 1
