"""The loss plot: every point kept, outliers do not wreck the y-range, last-N window, log toggle, CSV table."""

import time

import numpy as np
import pytest

from mamlviz.gui.monitor import GrowingSeries, LossPlot, loss_label
from mamlviz.gui.worker import TrainingChunk


@pytest.fixture
def losses(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(500, 400)
    plot.show()
    rng = np.random.default_rng(0)
    for start in range(0, 3000, 300):
        iterations = np.arange(start + 1, start + 301)
        post = 1.0 + 0.1 * rng.random(300)
        if start == 600:
            post[5] = 1e6  # one outlier
        chunk = TrainingChunk(
            int(iterations[-1]),
            iterations,
            {"maml/post": post, "pretrained": 2.0 + rng.random(300)},
            [(int(iterations[-1]), {"maml/K5/step1": 0.8, "maml/K10/step10": 0.5})],
        )
        plot.append(chunk)
    plot.flush()
    return plot


def test_no_point_is_lost_and_markers_follow_validation(losses):
    x, _ = losses.curves["maml/post"].getData()  # the displayed (possibly downsampled) data
    series = losses.series["maml/post"]
    assert series.n == 3000
    np.testing.assert_array_equal(series.x[: series.n], np.arange(1, 3001))
    assert len(x) > 0
    assert len(losses.markers.data) == 20
    np.testing.assert_allclose(sorted(set(losses.markers.data["y"])), np.log10([0.5, 0.8]))  # log axis
    losses.log_y.setChecked(False)
    np.testing.assert_allclose(sorted(set(losses.markers.data["y"])), [0.5, 0.8])


def test_outliers_do_not_wreck_the_y_range(losses):
    low, high = losses.plot.getPlotItem().viewRange()[1]
    assert high < np.log10(10)  # log axis: the 1e6 outlier is far above, the curves fill the view
    assert low > np.log10(0.1)
    losses.log_y.setChecked(False)
    low, high = losses.plot.getPlotItem().viewRange()[1]
    assert high < 10


def test_last_n_window_and_table(losses):
    losses.last_n.setValue(500)
    x, _ = losses.series["maml/post"].window(500)
    assert x[0] == 2501
    x_low, _ = losses.plot.getPlotItem().viewRange()[0]
    assert x_low > 2400
    header, table = losses.table()
    assert header[0] == "iteration"
    assert table.shape == (3000, len(header))
    assert np.isnan(table[0, header.index("maml/K5/step1")])
    assert table[299, header.index("maml/K5/step1")] == 0.8


def test_slow_redraws_are_deferred_but_no_point_is_lost(losses, qtbot):
    losses._next_redraw = time.perf_counter() + 60  # as if the last redraw had been very slow
    losses.append(TrainingChunk(3001, np.array([3001]), {"maml/post": np.array([1.05])}))
    assert losses.series["maml/post"].n == 3001
    assert losses._later.isActive()
    losses.flush()
    assert not losses._later.isActive()
    assert losses.curves["maml/post"].xData[-1] == 3001


def test_an_empty_plot_says_how_to_fill_it(losses, qtbot):
    assert not losses.hint.isVisible()  # data arrived
    losses.clear(100)
    assert losses.hint.isVisible()
    assert "Start (F5)" in losses.hint.toPlainText()


def test_growing_series_and_labels():
    series = GrowingSeries()
    for i in range(5):
        series.append(np.arange(i * 1000, (i + 1) * 1000), np.ones(1000))
    assert series.n == 5000
    assert loss_label("maml/pre") == "MAML before adapt."
    assert loss_label("pretrained/K10/step1") == "val Pretrained K=10, 1 step"
