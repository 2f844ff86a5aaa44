"""The Classification tab's Task box: the shipped Omniglot settings (5-way 1-shot, 20-way 1-shot, 5-way 5-shot), each
loaded off the GUI thread from stand-in files in a private resources folder, with the learners' answers over that
many classes; a setting whose MAML file is not shipped is greyed out and says which file it lacks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QPoint, Qt

from mamlviz import resources
from mamlviz.core.checkpoint import Initialization, save_initialization
from mamlviz.core.config import ClassificationConfig, TrainConfig
from mamlviz.core.omniglot.convnet import init_conv_params
from mamlviz.core.omniglot.data import unseen_characters
from mamlviz.core.omniglot.metric import init_embedding_params
from mamlviz.gui import shipped
from mamlviz.gui.app import settle
from tests.core.omniglot.fixtures import make_omniglot
from tests.gui.test_classification_tab import stroke

LEARNERS = ["MAML", "pretrained", "ProtoNet", "Matching Net"]
WAIT_MS = 60_000


def omniglot_file(path: Path, algo: str, ways: int, inner_lr: float = 0.4, inner_steps: int = 1) -> Path:
    """A tiny (8-filter) Omniglot learner: a conv net with a `ways`-way head, or a metric learner's embedding."""
    c = ClassificationConfig(ways=ways, filters=8, split="alphabets")
    generator = torch.Generator().manual_seed(ways)
    metric = algo in ("protonet", "matchingnet")
    params = init_embedding_params(8, generator) if metric else init_conv_params(8, ways, generator)
    config = TrainConfig(algo=algo, domain="omniglot", inner_lr=inner_lr, inner_steps=inner_steps, classification=c)
    save_initialization(path, Initialization(params, config, algo))
    return path


@pytest.fixture
def stand_ins(tmp_path, monkeypatch) -> Path:
    """Stand-ins for the shipped Omniglot files in a private resources folder, and
    a small Omniglot folder (24 evaluation characters of 6 drawings: enough for 20-way and for 5-shot tasks)."""
    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))
    data = make_omniglot(tmp_path / "omniglot", alphabets=2, characters=12, drawers=6)
    folder = tmp_path / "resources"
    folder.mkdir()
    omniglot_file(folder / "omniglot_5w1s_maml.safetensors", "fomaml", 5, 0.4)
    omniglot_file(folder / "omniglot_20w1s_maml.safetensors", "fomaml", 20, 0.1, inner_steps=5)  # as the paper's
    omniglot_file(folder / "omniglot_5w1s_pretrained.safetensors", "pretrained", 5)
    omniglot_file(folder / "omniglot_5w1s_protonet.safetensors", "protonet", 5)
    omniglot_file(folder / "omniglot_5w1s_matchingnet.safetensors", "matchingnet", 5)
    monkeypatch.setattr(resources, "_PACKAGED", folder)
    monkeypatch.setattr(resources, "_REPOSITORY", folder)
    monkeypatch.setattr(shipped, "shipped_omniglot_data", lambda: str(data))
    return folder


def open_tab(window, qtbot):
    with qtbot.waitSignal(window.classification_loaded, timeout=WAIT_MS):
        window.tabs.setCurrentIndex(window.classification_index)
    tab = window.classification
    qtbot.waitUntil(lambda: not tab.busy, timeout=WAIT_MS)
    return tab


def choose(window, qtbot, setting: str):
    tab = window.classification
    with qtbot.waitSignal(window.classification_loaded, timeout=WAIT_MS):
        tab.setting_combo.setCurrentText(setting)
        assert tab.status.text() == f"Loading the {setting} learners and their test characters…"
        assert not tab.setting_combo.isEnabled()
    qtbot.waitUntil(lambda: not tab.busy, timeout=WAIT_MS)


def test_choosing_20_way_shows_20_classes_for_every_learner(window, stand_ins, qtbot):
    tab = open_tab(window, qtbot)
    assert [tab.setting_combo.itemText(i) for i in range(3)] == ["5-way 1-shot", "20-way 1-shot", "5-way 5-shot"]
    assert tab.setting_combo.isVisible() and tab.status.text().startswith("Task 1: 5-way 1-shot from ")
    choose(window, qtbot, "20-way 1-shot")
    assert re.fullmatch(r"Task 2: 20-way 1-shot from the meta-test alphabets\.", tab.status.text()), tab.status.text()
    assert tab.setting_combo.currentText() == "20-way 1-shot" and tab.setting_combo.isEnabled()
    assert tab.demo.lr == 0.1, "the SGD learners adapt at the 20-way MAML's training α"
    assert tab.steps_spin.text() == "k = 5 steps", "and take the 5 steps it trained with"
    assert tab.step_slider.value() == tab.step_slider.maximum() == 5
    assert tab.support_grid.count() == 20 * 2  # a label and a drawing per class
    assert len(tab.query_results) == 20
    for name in LEARNERS:
        assert tab.predictions[name].shape == (6, 20, 20), name
        assert re.fullmatch(rf"{name}: class \d+ \(\d+%\) [✓✗]", tab.query_results[0].answers[name].text())

    qtbot.mouseClick(tab.draw_button, Qt.MouseButton.LeftButton)
    assert len(tab.class_canvases) == 20
    viewport = tab.pages.currentWidget().viewport()
    qtbot.waitUntil(lambda: not tab.pages.currentWidget().horizontalScrollBar().isVisible())
    for canvas in tab.class_canvases:  # they wrap to the width: none is cut off on the right
        assert canvas.mapTo(viewport, QPoint(canvas.width(), 0)).x() <= viewport.width()
    for c, canvas in enumerate(tab.class_canvases):
        stroke(qtbot, canvas, [(20 + 3 * c, 20), (56, 30 + 2 * c), (92 - 2 * c, 92)])
    with qtbot.waitSignal(tab.predictions_changed, timeout=WAIT_MS):
        stroke(qtbot, tab.query_canvas, [(56, 20), (56, 56), (56, 92)])
    assert {name: p.shape for name, p in tab.drawn_predictions.items()} == dict.fromkeys(LEARNERS, (6, 1, 20))


def test_a_setting_whose_maml_file_is_not_shipped_is_disabled_until_it_is(window, stand_ins, qtbot):
    twenty = stand_ins / "omniglot_20w1s_maml.safetensors"
    twenty.unlink()
    tab = open_tab(window, qtbot)
    items = {tab.setting_combo.itemText(i): tab.setting_combo.model().item(i) for i in range(3)}
    assert [label for label, item in items.items() if not item.isEnabled()] == ["20-way 1-shot"]
    tip = items["20-way 1-shot"].toolTip()
    assert tip.startswith("Not shipped yet: omniglot_20w1s_maml.safetensors.\n") and "95.8%" in tip
    assert "99.9%" in items["5-way 5-shot"].toolTip() and "98.7%" in items["5-way 1-shot"].toolTip()

    omniglot_file(twenty, "fomaml", 20, 0.1, inner_steps=5)  # shipped while the app runs
    window.tabs.setCurrentIndex(0)
    window.tabs.setCurrentIndex(window.classification_index)
    assert tab.setting_combo.model().item(1).isEnabled()
    assert not tab.setting_combo.model().item(1).toolTip().startswith("Not shipped")
    choose(window, qtbot, "5-way 5-shot")
    assert tab.status.text().startswith("Task 2: 5-way 5-shot from ")
    assert tab.support_grid.count() == 5 * (1 + 5)
    assert all(tab.predictions[name].shape == (4, 5, 5) for name in LEARNERS)
    choose(window, qtbot, "20-way 1-shot")
    assert all(tab.predictions[name].shape == (6, 20, 20) for name in LEARNERS)
    choose(window, qtbot, "5-way 1-shot")
    assert tab.steps_spin.text() == "k = 3 steps", "a 1-step-trained file is shown after 3, as the paper tests it"
    assert all(tab.predictions[name].shape == (4, 5, 5) for name in LEARNERS)


def test_an_app_trained_init_survives_a_setting_change(window, stand_ins, qtbot):
    tab = open_tab(window, qtbot)
    five_way = init_conv_params(8, 5, torch.Generator().manual_seed(1))
    config = TrainConfig(domain="omniglot", classification=ClassificationConfig(ways=5, filters=8))
    name = "MAML (trained here)"
    window.state.put_init(name, Initialization(five_way, config, "maml"), unsaved=True)
    qtbot.waitUntil(lambda: name in tab.predictions, timeout=WAIT_MS)
    choose(window, qtbot, "20-way 1-shot")
    assert list(tab.demo.inits) == [*LEARNERS, name]
    assert tab.predictions[name].shape == (6, 20, 20)
    assert name in tab.query_results[0].answers and name in tab.drawn_result.answers
    note = f"{name} was meta-trained for 5-way tasks: on 20-way ones its head starts at zero."
    assert tab.status.text().endswith(note)
    choose(window, qtbot, "5-way 1-shot")
    assert tab.predictions[name].shape == (4, 5, 5) and "meta-trained for" not in tab.status.text()


def test_a_setting_that_cannot_be_loaded_is_one_sentence(window, stand_ins, qtbot):
    tab = open_tab(window, qtbot)
    omniglot_file(stand_ins / "omniglot_20w1s_maml.safetensors", "fomaml", 5)  # a 5-way head under the 20-way name
    tab.setting_combo.setCurrentText("20-way 1-shot")
    qtbot.waitUntil(lambda: tab.setting_combo.isEnabled(), timeout=WAIT_MS)
    assert tab.status.text() == (
        f"The 20-way 1-shot learners could not be loaded: {stand_ins / 'omniglot_20w1s_maml.safetensors'} was"
        " meta-trained for 5-way tasks, not 20-way ones."
    )
    assert tab.setting_combo.currentText() == "5-way 1-shot" and tab.demo.ways == 5  # the shown setting stays


def test_opening_an_omniglot_file_shows_its_tab_and_domain_and_the_screenshot_waits_for_it(window, stand_ins, qapp):
    """`--screenshot` renders only once the tab's background loading and adapting are done (`settle`)."""
    assert window.files.open_initialization(str(stand_ins / "omniglot_5w1s_maml.safetensors"))
    assert window.tabs.currentIndex() == window.classification_index
    assert window.controls.training.domain.currentData() == "omniglot"
    assert window.controls.training.ways.isVisible()
    assert settle(qapp, timeout_s=WAIT_MS / 1000)
    tab = window.classification
    assert tab.demo is not None and not tab.busy
    assert tab.status.text().startswith("Task 1: 5-way 1-shot from "), tab.status.text()


def test_a_learner_trained_on_another_split_narrows_the_tasks_to_characters_new_to_all(window, stand_ins, qtbot):
    """A classifier trained in the app on the paper split must not be shown characters it meta-trained on: the
    tab loads its setting again from the characters none of its learners trained on (the stand-ins: alphabets)."""
    tab = open_tab(window, qtbot)
    assert tab.status.text().startswith("Task 1: 5-way 1-shot from the meta-test alphabets.")
    assert tab.demo.pool.images.shape[1] == 24 and tab.demo.pool.splits == ("alphabets",)
    paper = ClassificationConfig(ways=5, filters=8, split="paper")
    name = "MAML (trained here)"
    config = TrainConfig(domain="omniglot", classification=paper)
    trained = Initialization(init_conv_params(8, 5, torch.Generator()), config, "maml")
    with qtbot.waitSignal(window.classification_loaded, timeout=WAIT_MS):
        window.state.put_init(name, trained, unsaved=True)
    qtbot.waitUntil(lambda: not tab.busy, timeout=WAIT_MS)
    new_to_all = unseen_characters(["alphabets", "paper"], shipped.shipped_omniglot_data())
    count = len(new_to_all.characters)
    assert 5 <= count < 24
    assert tab.demo.pool.images.shape[1] == count and tab.demo.pool.splits == ("alphabets", "paper")
    assert tab.status.text() == f"Task 2: 5-way 1-shot from the {count} characters none of these learners trained on."
    assert tab.predictions[name].shape == (4, 5, 5)
    with qtbot.assertNotEmitted(window.classification_loaded, wait=200):  # the next snapshot loads nothing again
        window.state.put_init(name, trained, unsaved=True)
