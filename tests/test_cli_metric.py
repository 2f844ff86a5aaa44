"""`mamlviz train --algo protonet|matchingnet` and `mamlviz eval` beside MAML on a tiny synthetic Omniglot copy."""

import json

import pytest
import torch
from safetensors.torch import load_file

from mamlviz.cli import main
from mamlviz.core.checkpoint import load_initialization
from mamlviz.core.omniglot import metric
from tests.core.omniglot.fixtures import make_omniglot


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))


def train(data, out, *extra):
    args = ["train", "--domain", "omniglot", "--ways", "3", "--shots", "1", "--iters", "2", "--val-tasks", "4"]
    return main([*args, *extra, "--data", str(data), "--out", str(out)])


def test_train_eval_round_trip_beside_maml(tmp_path, capsys):
    data = make_omniglot(tmp_path / "omniglot", characters=3)
    files = {algo: tmp_path / f"{algo}.safetensors" for algo in ("protonet", "matchingnet", "maml")}
    assert train(data, files["protonet"], "--algo", "protonet", "--train-ways", "6") == 0
    assert train(data, files["matchingnet"], "--algo", "matchingnet", "--train-ways", "4", "--queries", "3") == 0
    assert train(data, files["maml"], "--meta-batch", "2", "--ways", "5") == 0
    err = capsys.readouterr().err
    assert "training protonet on omniglot for 2 iterations" in err and "saved" in err
    proto = load_initialization(files["protonet"]).config
    assert (proto.classification.train_ways, proto.classification.queries, proto.meta_batch) == (6, 5, 1)
    match = load_initialization(files["matchingnet"]).config.classification
    assert (match.train_ways, match.queries) == (4, 3)
    module = metric.make_embedding(64)
    module.load_state_dict(load_file(files["protonet"]))  # the plain nn.Sequential, strict

    paths = [str(path) for path in files.values()]
    assert main(["eval", *paths, "--tasks", "8", "--steps", "2", "--json"]) == 0
    rows = {row["algorithm"]: row for row in json.loads(capsys.readouterr().out)["results"]}
    for algo in ("protonet", "matchingnet"):
        assert (rows[algo]["ways"], rows[algo]["shots"], rows[algo]["n_tasks"]) == (3, 1, 8)
        assert len(rows[algo]["mean"]) == 1 and 0 <= rows[algo]["mean"][0] <= 1
        assert rows[algo]["rule"] == metric.RULES[algo] and rows[algo]["inner_lr"] is None
    assert len(rows["maml"]["mean"]) == 3

    assert main(["eval", *paths, "--tasks", "8", "--steps", "1", "--ways", "5", "--shots", "1"]) == 0
    table = capsys.readouterr().out
    lines = table.splitlines()
    assert lines[0].startswith("query accuracy (%) on 8 meta-test tasks")
    assert lines[1].split()[-1] == "paper"
    proto_row = next(line for line in lines if line.startswith("protonet.safetensors"))
    assert proto_row.split()[1:4] == ["protonet", "5w1s", "–"] and proto_row.endswith("98.8")
    assert next(line for line in lines if line.startswith("matchingnet.safetensors")).endswith("98.1")
    assert next(line for line in lines if line.startswith("maml.safetensors")).endswith("98.7")
    assert "  ProtoNets     98.8 / 99.7 / 96.0 / 98.9" in lines
    assert "  Matching Nets 98.1 / 98.9 / 93.8 / 98.5" in lines
    assert "  MAML          98.7 / 99.9 / 95.8 / 98.9" in lines

    assert main(["info", str(files["matchingnet"])]) == 0
    assert "conv embedding 4×64" in capsys.readouterr().out


def test_the_papers_episodes_are_the_default(tmp_path):
    data = make_omniglot(tmp_path / "omniglot", alphabets=2, characters=8)  # 64 classes with rotations
    out = tmp_path / "p.safetensors"
    assert train(data, out, "--algo", "protonet", "--iters", "1") == 0
    init = load_initialization(out)
    c = init.config.classification
    assert (c.ways, c.train_ways, c.shots, c.queries, init.config.meta_batch, init.config.meta_lr) == (
        3,
        60,
        1,
        5,
        1,
        1e-3,
    )
    assert torch.isfinite(torch.stack([v.float().sum() for v in init.params.values()])).all()


def test_too_few_classes_for_the_training_episodes_is_one_sentence(tmp_path, capsys):
    data = make_omniglot(tmp_path / "omniglot", characters=3)
    assert train(data, tmp_path / "p.safetensors", "--algo", "protonet") == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == "error: 60-way training episodes need that many classes, but the background alphabets have only 24."


def test_sinusoid_refuses_a_metric_learner(tmp_path, capsys):
    assert main(["train", "--algo", "matchingnet", "--iters", "1", "--out", str(tmp_path / "x.safetensors")]) == 2
    assert "matchingnet classifies images" in capsys.readouterr().err
