"""The Reinforcement learning tab, driven like a user: clicks on the arena, the seed box, Resample, the window."""

import dataclasses

import numpy as np
import pytest
import torch
from gui_helpers import click, data_per_pixel, view_pos
from PySide6.QtCore import Qt

from mamlviz.core.checkpoint import Initialization
from mamlviz.core.nav2d.domain import DEFAULTS
from mamlviz.core.nav2d.policy import init_policy
from mamlviz.core.presets import DOMAIN_DEFAULTS
from mamlviz.gui.rl import RL_DOMAIN, RLTab
from mamlviz.gui.rl import policies as rl_policies
from mamlviz.gui.rl.policies import RANDOM, STEPS, Policy, random_policy

WAIT_MS = 60_000


def other_policy(seed: int = 1) -> Policy:
    return Policy(init_policy(DEFAULTS["model"], torch.Generator().manual_seed(seed)), paper="maml", color="maml")


@pytest.fixture
def tab(qtbot):
    tab = RLTab(policies={RANDOM: random_policy(), "other": other_policy()})
    tab.trajectories.setValue(8)  # fewer trajectories: the same code, a faster test
    qtbot.addWidget(tab)
    tab.resize(1000, 650)
    with qtbot.waitSignal(tab.updated, timeout=WAIT_MS):
        tab.show()  # shown: the first rollouts start
    qtbot.waitUntil(lambda: not tab.jobs.busy, timeout=WAIT_MS)
    return tab


def mean_paths(tab) -> dict[str, np.ndarray]:
    return {name: np.column_stack(tab.arena.shown_paths(name)) for name in tab.shown_names()}


def test_a_click_on_the_arena_moves_the_goal_and_the_paths_follow(tab, qtbot):
    before = mean_paths(tab)
    with qtbot.waitSignal(tab.updated, timeout=WAIT_MS):
        click(qtbot, tab.arena, -0.3, 0.2)
    tolerance = 2 * data_per_pixel(tab.arena).max()
    assert tab.goal == pytest.approx((-0.3, 0.2), abs=tolerance)
    marker = tab.arena.goal_marker.getData()
    assert (marker[0][0], marker[1][0]) == pytest.approx(tab.goal)
    after = mean_paths(tab)
    assert set(after) == {RANDOM, "other"}
    for name in after:
        assert after[name].shape == (101, 2)
        assert not np.allclose(after[name], before[name])  # new goal, new adaptation, new paths
    assert "could not" not in tab.status.text()


def test_a_click_outside_the_square_puts_the_goal_on_its_edge(tab, qtbot):
    with qtbot.waitSignal(tab.updated, timeout=WAIT_MS):
        click(qtbot, tab.arena, 0.58, -0.1)
    assert tab.goal[0] == 0.5


def test_dragging_moves_the_goal_along(tab, qtbot):
    viewport = tab.arena.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=view_pos(tab.arena, 0.1, 0.1))
    qtbot.mouseMove(viewport, pos=view_pos(tab.arena, 0.3, -0.25))
    with qtbot.waitSignal(tab.updated, timeout=WAIT_MS):
        qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=view_pos(tab.arena, 0.4, -0.3))
    qtbot.waitUntil(lambda: not tab.jobs.busy, timeout=WAIT_MS)
    assert tab.goal == pytest.approx((0.4, -0.3), abs=2 * data_per_pixel(tab.arena).max())
    assert tab.cache["other"][1].goal == tab.goal  # what is drawn was computed for where the drag ended


def test_the_return_plot_has_a_point_per_step_and_the_papers_markers(tab):
    for name in tab.shown_names():
        x, y = tab.returns.points(name)
        assert list(x) == list(range(STEPS + 1))
        assert np.isfinite(y).all()
        assert y == pytest.approx(tab.rollouts(name).mean_return)
    assert set(tab.returns.paper) == {"random", "maml"}
    assert tab.returns.paper["maml"].getData()[1] == pytest.approx([-40.41, -11.68, -3.33, -3.23])


def test_the_step_slider_shows_the_trajectories_of_that_step(tab):
    tab.step.setValue(0)
    shown = np.column_stack(tab.arena.shown_paths(RANDOM))
    assert shown == pytest.approx(tab.rollouts(RANDOM).mean_path[0])
    assert tab.step_label.text() == "before adaptation"
    tab.step.setValue(2)
    assert np.column_stack(tab.arena.shown_paths(RANDOM)) == pytest.approx(tab.rollouts(RANDOM).mean_path[2])


def test_the_same_seed_draws_the_same_paths_and_resample_new_ones(tab, qtbot):
    first = tab.rollouts(RANDOM).paths.copy()
    with qtbot.waitSignal(tab.updated, timeout=WAIT_MS):
        tab.resample.click()
    assert tab.seed.value() == 1
    resampled = tab.rollouts(RANDOM).paths
    assert not np.allclose(resampled, first)
    with qtbot.waitSignal(tab.updated, timeout=WAIT_MS):
        tab.seed.setValue(0)
    np.testing.assert_array_equal(tab.rollouts(RANDOM).paths, first)


def test_unticking_a_policy_removes_its_paths_and_points(tab, qtbot):
    item = tab.list.item(1)
    assert item.text() == "other"
    item.setCheckState(Qt.CheckState.Unchecked)
    assert tab.shown_names() == [RANDOM]
    assert "other" not in tab.arena.means and "other" not in tab.returns.curves
    assert set(tab.returns.paper) == {"random"}


def test_a_failing_adaptation_says_so_in_one_sentence(tab, qtbot, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (1x2 and 3x100)\nmore detail")

    monkeypatch.setattr(rl_policies, "adapt_and_rollout", broken)
    with qtbot.waitSignal(tab.failed, timeout=WAIT_MS) as blocker:
        click(qtbot, tab.arena, 0.2, -0.2)
    sentence = blocker.args[0]
    assert sentence == tab.status.text()
    assert sentence.startswith(f"{RANDOM} could not be adapted: mat1 and mat2")
    assert sentence.endswith(".") and "\n" not in sentence and sentence.count(". ") == 0


def test_the_window_lists_an_initialization_put_into_the_state(window, qtbot):
    params = init_policy(DEFAULTS["model"], torch.Generator().manual_seed(3))
    config = dataclasses.replace(DOMAIN_DEFAULTS[RL_DOMAIN], iterations=10)
    window.state.put_init("my policy", Initialization(params, config, "maml", 10))
    rl = window.rl
    assert "my policy" in rl.shown_names()
    assert [rl.list.item(i).text() for i in range(rl.list.count())][-1] == "my policy"
    rl.trajectories.setValue(8)
    with qtbot.waitSignal(rl.updated, timeout=WAIT_MS):
        window.show_domain(RL_DOMAIN)
    qtbot.waitUntil(lambda: rl.rollouts("my policy") is not None, timeout=WAIT_MS)
    assert window.tabs.currentWidget() is rl
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Reinforcement learning (2D navigation)"
    del window.state.inits["my policy"]
    window.state.inits_changed.emit()
    assert "my policy" not in rl.policies


def test_training_2d_navigation_in_the_window_adds_trained_policies(window, qtbot):
    controls = window.controls.training
    domain = controls.domain.findData(RL_DOMAIN)
    assert domain >= 0, "the domain combo offers 2D navigation"
    controls.domain.setCurrentIndex(domain)
    controls.domain.activated.emit(domain)
    controls.iterations.setValue(2)
    controls.meta_batch.setValue(2)
    controls.shots.setValue(5)
    config = controls.config()
    assert (config.domain, config.model.sizes, config.rl.trajectories) == (RL_DOMAIN, (2, 100, 100, 2), 5)
    errors = []
    window.error_shown.connect(errors.append)
    with qtbot.waitSignal(window.training.finished, timeout=180_000):
        window.start_training()
    assert errors == []
    trained = [name for name in window.rl.policies if "(trained here)" in name]
    assert trained == ["MAML (trained here)", "Pretrained (trained here)"]
    curves = set(window.monitor.losses.curves)
    assert {"maml/pre", "maml/post", "pretrained"} <= curves
    assert not any(key.endswith(("/kl", "/line_search", "/return_pre")) for key in curves)
    assert window.monitor.losses.plot.getPlotItem().titleLabel.text == "Meta-training loss (−return)"
    # TRPO's figures of each iteration, under the losses: the accepted step's KL and the line search's backtracks
    metrics = window.monitor.metrics
    assert metrics.isVisible() and metrics.panel is not None and metrics.panel.domain == RL_DOMAIN
    assert set(metrics.curves) == {"maml/kl", "maml/line_search", "pretrained/kl", "pretrained/line_search"}
    for learner in ("maml", "pretrained"):
        x, kl = metrics.values(f"{learner}/kl")
        assert list(x) == [1, 2]
        assert ((kl >= 0) & (kl <= 0.01)).all()  # within TRPO's trust region (max KL 0.01)
        _, backtracks = metrics.values(f"{learner}/line_search")
        assert set(backtracks) <= set(range(-1, 16))
    assert (metrics.values("maml/kl")[1] > 0).any(), "at least one step was taken"
    kl_plot = metrics.plots["kl"].getPlotItem()
    assert kl_plot.titleLabel.text == "KL divergence of the accepted step"
    assert [label.text for _, label in kl_plot.legend.items] == ["max KL δ = 0.01 (trust region)", "MAML", "Pretrained"]
    assert "nats" in kl_plot.getAxis("left").labelText
    assert "trust-region" in metrics.plots["kl"].toolTip()
    assert metrics.plots["line_search"].getPlotItem().getAxis("left").tickStrings([-1.0, 0.0], 1, 1)[0] == "none"
