"""The CLI progress bar written to a log (not a terminal): every 10%, and at least once a minute."""

import io

import mamlviz.progress as progress
from mamlviz.progress import ProgressBar


def test_a_log_gets_a_line_every_tenth_and_at_least_once_a_minute(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: clock[0])
    stream = io.StringIO()
    bar = ProgressBar(1000, "maml", stream)
    for done in range(1, 100):  # still in the first tenth, within a minute: one line
        clock[0] += 0.1
        bar.update(done)
    assert stream.getvalue().count("\n") == 1
    clock[0] += 61
    bar.update(100)  # a new tenth
    bar.update(101)  # same tenth, same minute: nothing
    clock[0] += 61
    bar.update(102)  # same tenth, a minute later: a line
    lines = stream.getvalue().splitlines()
    assert [line.split()[2] for line in lines] == ["1/1000", "100/1000", "102/1000"]
