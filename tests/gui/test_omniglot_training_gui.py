"""Omniglot meta-training from the window: same worker and monitor, the trained init joins the Classification tab
and can be exported; a wrong data folder is one sentence."""

import numpy as np
import pytest

from mamlviz.core.checkpoint import load_initialization
from mamlviz.core.data import default_generator
from mamlviz.core.omniglot.classification import ImagePool
from mamlviz.core.omniglot.convnet import init_conv_params
from mamlviz.core.omniglot.data import OmniglotSplit
from mamlviz.core.omniglot.fewshot_demo import FewShotDemo
from mamlviz.gui.controls import OMNIGLOT_PAPER
from tests.core.omniglot.fixtures import make_omniglot

WAYS = 3


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))


def _omniglot_settings(window, data) -> None:
    training = window.controls.training
    training.set_config(OMNIGLOT_PAPER)
    training.ways.setValue(WAYS)
    training.meta_batch.setValue(2)
    training.iterations.setValue(4)
    training.data.setText(str(data))


def _drawn_demo() -> FewShotDemo:
    rng = np.random.default_rng(0)
    images = (rng.random((6, 4, 28, 28)) < 0.2).astype(np.uint8) * 255
    pool = ImagePool.from_split(OmniglotSplit(images, tuple(f"A/character{i:02d}" for i in range(6))))
    return FewShotDemo({"MAML": init_conv_params(8, WAYS, default_generator(0))}, pool, ways=WAYS, shots=1)


def test_choosing_omniglot_shows_its_settings_and_algorithms(window):
    training = window.controls.training
    assert not training.form.isRowVisible(training.ways)
    training.set_config(OMNIGLOT_PAPER)
    assert training.form.isRowVisible(training.ways) and not training.form.isRowVisible(training.hidden)
    assert [training.algorithm.itemData(i) for i in range(training.algorithm.count())] == [
        "maml",
        "fomaml",
        "protonet",
        "matchingnet",
    ]
    config = training.config()
    assert (config.domain, config.inner_lr, config.meta_batch, config.classification.shots) == ("omniglot", 0.4, 32, 1)


def test_omniglot_training_streams_to_the_monitor_and_the_classification_tab(window, qtbot, tmp_path):
    data = make_omniglot(tmp_path / "omniglot", characters=3)
    _omniglot_settings(window, data)
    window.classification.set_demo(_drawn_demo())
    window.tabs.setCurrentIndex(window.classification_index)
    with qtbot.waitSignal(window.training.started, timeout=30_000):
        window.actions.start.trigger()
    with qtbot.waitSignal(window.training.finished, timeout=60_000):
        pass
    assert window.training.done == 4
    series = window.monitor.losses.series
    assert series["maml/post"].n == 4 and np.isfinite(series["maml/post"].y[:4]).all()
    assert any(key.startswith(f"maml/{WAYS}w1s/step") for key in series)
    assert "cross-entropy" in window.monitor.losses.plot.getPlotItem().titleLabel.text
    assert window.monitor.probe.probe is None and not window.monitor.probe.isVisible()
    assert "MAML (trained here)" in window.classification.demo.inits
    result = window.classification.query_results[0]
    assert list(result.answers) == ["MAML", "MAML (trained here)", "Pretrained (trained here)"]
    qtbot.waitUntil(lambda: not window.classification.busy, timeout=30_000)  # it adapts off the GUI thread
    assert result.answers["MAML (trained here)"].text().startswith("MAML (trained here): class ")
    assert window.actions.export_omniglot.isEnabled()
    target = tmp_path / "trained.safetensors"
    assert window.files.export_omniglot(str(target))
    loaded = load_initialization(target)
    assert (loaded.config.domain, loaded.algorithm, loaded.iterations) == ("omniglot", "maml", 4)
    assert set(window.state.shown_params("sinusoid")) == {"maml", "pretrained"}  # the sinusoid playground is untouched


def test_a_wrong_data_folder_is_one_sentence_and_the_app_keeps_working(window, qtbot, tmp_path):
    _omniglot_settings(window, tmp_path / "nothing-here")
    with qtbot.waitSignal(window.error_shown, timeout=30_000) as shown:
        window.actions.start.trigger()
    assert "Cannot start training" in window.last_error.windowTitle() or shown.args[0]
    assert "\n" not in shown.args[0] and "Traceback" not in shown.args[0]
    assert window.actions.start.isEnabled() and not window.training.running
