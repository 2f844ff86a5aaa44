"""The family views render real diagnostics computed by the core, offscreen."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt

from mamlviz.core.algorithms import inner_loop_for
from mamlviz.core.config import TaskConfig, TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.sinusoid import diagnostics
from mamlviz.core.sinusoid.tasks import sample_tasks
from mamlviz.core.train import Trainer
from mamlviz.gui.views.feature_reuse import FeatureReuseView
from mamlviz.gui.views.gradient_flow import GradientFlowView
from mamlviz.gui.views.lr_sensitivity import LrSensitivityView
from mamlviz.gui.views.stability import StabilityView
from mamlviz.gui.views.task_map import TaskSpaceMapView

CFG = TrainConfig(iterations=6, val_every=100, meta_batch=5, task=TaskConfig(shots=5, queries=5))


@pytest.fixture(scope="module")
def trained():
    """A MAML init after a few real meta-iterations, and the loops of MAML and ANIL on it."""
    trainer = Trainer(CFG)
    for _ in trainer.iterate():
        pass
    theta = trainer.snapshot()["maml"]
    loops = {"maml": inner_loop_for(CFG), "anil": inner_loop_for(dataclasses.replace(CFG, algo="anil"))}
    return theta, loops


def show(qtbot, widget):
    qtbot.addWidget(widget)
    widget.resize(640, 480)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_gradient_flow_view_plots_each_measurement(qtbot):
    view = show(qtbot, GradientFlowView())
    trainer = Trainer(dataclasses.replace(CFG, iterations=3))
    measured = []
    for progress in trainer.iterate():
        batch = sample_tasks(CFG.task, 5, default_generator(progress.iteration))
        flow = diagnostics.gradient_flow(trainer.learners[0].theta, batch, trainer.learners[0].inner_loop(), 1)
        view.add_measurement(progress.iteration, flow.labels, flow.second_order, flow.first_order, flow.cosine)
        measured.append(flow)
    assert list(view.second_curves) == ["layer 1", "layer 2", "head"]
    x, y = view.second_curves["head"].getOriginalDataset()
    assert x.tolist() == [1, 2, 3]
    np.testing.assert_allclose(y, [flow.second_order[2] for flow in measured])
    np.testing.assert_allclose(
        view.first_curves["layer 1"].getOriginalDataset()[1], [f.first_order[0] for f in measured]
    )
    np.testing.assert_allclose(view.cosine_curve.getOriginalDataset()[1], [f.cosine for f in measured])
    view.clear()
    assert view.cosine_curve.getOriginalDataset()[0] is None or len(view.cosine_curve.getOriginalDataset()[0]) == 0


def test_feature_reuse_view_shows_maml_beside_anil(qtbot, trained):
    theta, loops = trained
    batch = sample_tasks(CFG.task, 1, default_generator(7))
    changes = {name: diagnostics.weight_change(theta, batch, loop, 5) for name, loop in loops.items()}
    view = show(qtbot, FeatureReuseView())
    view.set_changes(diagnostics.layer_labels(theta), changes)
    assert set(view.bars) == {"maml", "anil"}
    anil = view.bars["anil"].opts["height"]
    assert anil[:2].tolist() == [0.0, 0.0]
    assert anil[2] > 0
    np.testing.assert_allclose(view.bars["maml"].opts["height"], changes["maml"])
    ticks = view.plot.getPlotItem().getAxis("bottom")._tickLevels[0]
    assert [label for _, label in ticks] == ["layer 1", "layer 2", "head"]


def test_stability_view_plots_norm_per_inner_step_count(qtbot, trained):
    theta, loops = trained
    batch = sample_tasks(CFG.task, 5, default_generator(3))
    norms = {name: diagnostics.meta_gradient_norms(theta, batch, loop, 4) for name, loop in loops.items()}
    view = show(qtbot, StabilityView())
    view.set_norms(norms)
    x, y = view.curves["maml"].getOriginalDataset()
    assert x.tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(y, norms["maml"])
    view.set_norms({"anil": norms["anil"]})
    assert list(view.curves) == ["anil"]


def test_task_map_click_selects_the_task_of_the_cell(qtbot, trained):
    theta, loops = trained
    amplitudes, phases = np.linspace(0.1, 5.0, 8), np.linspace(0.0, np.pi, 6)
    mse = diagnostics.task_space_mse(theta, CFG.task, loops["maml"], 5, 3, amplitudes, phases)
    view = show(qtbot, TaskSpaceMapView())
    view.set_map(amplitudes, phases, mse)
    np.testing.assert_allclose(view.image.image, np.log10(mse).T, rtol=1e-6)
    view.plot.getPlotItem().vb.autoRange(padding=0)
    qtbot.wait(50)
    vb = view.plot.getPlotItem().vb
    scene = vb.mapViewToScene(view.cell_center(5, 2))
    pos = view.plot.mapFromScene(scene)
    with qtbot.waitSignal(view.task_selected, timeout=2000) as blocker:
        qtbot.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))
    assert blocker.args == pytest.approx([amplitudes[5], phases[2]])
    assert view.marker.data["x"].tolist() == pytest.approx([phases[2]])


def test_lr_sensitivity_view_follows_the_step_spinbox(qtbot, trained):
    theta, loops = trained
    alphas = np.logspace(-3, 0, 5)
    mse = {
        name: diagnostics.lr_sensitivity(theta, CFG.task, loop, 5, 3, alphas, n_tasks=20)
        for name, loop in loops.items()
    }
    view = show(qtbot, LrSensitivityView())
    view.set_sensitivity(alphas, mse)
    view.set_reference(0.01)
    assert view.steps.maximum() == 3
    assert view.steps.value() == 3
    x, y = view.curves["anil"].getOriginalDataset()
    np.testing.assert_allclose(x, alphas)
    finite = np.isfinite(mse["anil"][:, 3])
    np.testing.assert_allclose(y[finite], mse["anil"][finite, 3])
    view.steps.setValue(1)
    np.testing.assert_allclose(view.curves["maml"].getOriginalDataset()[1][:3], mse["maml"][:3, 1])
    assert view.reference.isVisible()
    assert view.reference.value() == pytest.approx(-2.0)


def test_views_render_to_an_image(qtbot, trained, tmp_path):
    theta, loops = trained
    amplitudes, phases = np.linspace(0.1, 5.0, 12), np.linspace(0.0, np.pi, 12)
    view = show(qtbot, TaskSpaceMapView())
    view.set_map(
        amplitudes, phases, diagnostics.task_space_mse(theta, CFG.task, loops["maml"], 5, 3, amplitudes, phases)
    )
    path = tmp_path / "task_map.png"
    assert view.grab().save(str(path))
    image = view.grab().toImage()
    colors = {image.pixel(x, y) for x in range(100, 500, 23) for y in range(100, 400, 23)}
    assert len(colors) > 5, "the heatmap shows varying colours"
    assert torch.get_num_threads() == 1
