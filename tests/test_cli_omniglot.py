"""`mamlviz train --domain omniglot` and `mamlviz eval` on a tiny synthetic Omniglot copy."""

import json

import pytest

from mamlviz.cli import main
from mamlviz.core.checkpoint import load_initialization
from mamlviz.core.omniglot.convnet import HEAD
from tests.core.omniglot.fixtures import archive_with, make_omniglot, short_ihdr_png


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))


def test_train_eval_info_omniglot(tmp_path, capsys):
    data = make_omniglot(tmp_path / "omniglot", characters=3)
    out = tmp_path / "o.safetensors"
    args = ["train", "--domain", "omniglot", "--ways", "3", "--shots", "1", "--iters", "2", "--meta-batch", "2"]
    args += ["--val-tasks", "4"]
    assert main([*args, "--data", str(data), "--out", str(out)]) == 0
    assert main(["eval", str(out), "--tasks", "8", "--steps", "2", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["results"]
    assert (row["ways"], row["shots"], row["n_tasks"], row["inner_lr"]) == (3, 1, 8, 0.4)
    assert len(row["mean"]) == 3
    assert all(0 <= acc <= 1 for acc in row["mean"])
    assert main(["eval", str(out), "--tasks", "8", "--steps", "1"]) == 0
    table = capsys.readouterr().out
    assert "query accuracy (%) on 8 meta-test tasks" in table
    assert "3w1s" in table
    assert main(["info", str(out)]) == 0
    assert "conv 4×64" in capsys.readouterr().out


def test_twenty_ways_take_the_papers_twenty_way_settings(tmp_path):
    data = make_omniglot(tmp_path / "omniglot", characters=3)
    out = tmp_path / "o20.safetensors"
    args = ["train", "--domain", "omniglot", "--ways", "20", "--iters", "1", "--meta-batch", "1", "--val-tasks", "1"]
    assert main([*args, "--data", str(data), "--out", str(out)]) == 0
    config = load_initialization(out).config
    assert (config.inner_lr, config.inner_steps, config.classification.ways) == (0.1, 5, 20)


def test_init_from_another_number_of_ways_keeps_the_body_and_zeroes_the_head(tmp_path, capsys):
    data = make_omniglot(tmp_path / "omniglot", characters=3)
    common = ["train", "--domain", "omniglot", "--shots", "1", "--meta-batch", "2", "--val-tasks", "2"]
    common += ["--data", str(data), "--inner-steps", "1", "--inner-lr", "0.4"]
    three, four = tmp_path / "o3.safetensors", tmp_path / "o4.safetensors"
    assert main([*common, "--ways", "3", "--iters", "2", "--out", str(three)]) == 0
    capsys.readouterr()
    assert main([*common, "--ways", "4", "--iters", "1", "--init", str(three), "--out", str(four)]) == 0
    assert "its 3-way head is replaced by a zero 4-way one" in capsys.readouterr().err
    before, after = load_initialization(three), load_initialization(four)
    assert after.params[f"{HEAD}.weight"].shape[-2] == 4
    body = [name for name in before.params if not name.startswith(f"{HEAD}.")]
    # one Adam step at 1e-3 moves each weight by at most about 1e-3: the body is the file's, not a fresh draw
    assert max(float((after.params[k] - before.params[k]).abs().max()) for k in body) < 1.5e-3
    assert after.metrics["started_from"]["changed"] == "its 3-way head is replaced by a zero 4-way one"


def test_wrong_data_path_is_one_sentence(tmp_path, capsys):
    args = ["train", "--domain", "omniglot", "--iters", "1", "--out", str(tmp_path / "o.safetensors")]
    assert main([*args, "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("error: Omniglot data folder")
    assert err.splitlines()[-1].endswith("does not exist.")


def test_damaged_archive_is_one_sentence(tmp_path, capsys):
    (tmp_path / "images_background.zip").write_bytes(b"PK\x03\x04 this is not really a zip archive")
    args = ["train", "--domain", "omniglot", "--iters", "1", "--out", str(tmp_path / "o.safetensors")]
    assert main([*args, "--data", str(tmp_path)]) == 2
    assert "is damaged and cannot be read" in capsys.readouterr().err


def test_broken_png_in_the_archive_is_one_sentence(tmp_path, capsys):
    archive_with(tmp_path, {"A/character01/x_01.png": short_ihdr_png()})
    args = ["train", "--domain", "omniglot", "--iters", "1", "--out", str(tmp_path / "o.safetensors")]
    assert main([*args, "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith("error: images_background/A/character01/x_01.png in ")
    assert "is a damaged PNG image" in last
