"""`ClassificationConfig.split`: the background/evaluation alphabets, or the paper's fixed random 1,200 / 423."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mamlviz.cli import main
from mamlviz.core.checkpoint import load_initialization, read_header
from mamlviz.core.config import ClassificationConfig, TrainConfig
from mamlviz.core.errors import ConfigError
from mamlviz.core.omniglot import domain
from mamlviz.core.omniglot.data import OmniglotSplit, hold_out, load_meta_test, load_split, meta_split
from mamlviz.core.omniglot.training import load_pools
from tests.core.omniglot.fixtures import make_omniglot


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def data(tmp_path):
    return make_omniglot(tmp_path / "omniglot", alphabets=2, characters=4)  # 8 + 8 characters


def _archives(data) -> tuple[OmniglotSplit, OmniglotSplit]:
    return load_split("background", data), load_split("evaluation", data)


def test_paper_split_covers_every_character_once_and_is_fixed(data):
    background, evaluation = _archives(data)
    train, test = meta_split("paper", background, evaluation)
    names = [f"background/{c}" for c in background.characters] + [f"evaluation/{c}" for c in evaluation.characters]
    assert (len(train.characters), len(test.characters)) == (12, 4)  # round(16 · 1200 / 1623)
    assert not set(train.characters) & set(test.characters)
    assert sorted(train.characters + test.characters) == sorted(names)
    pooled = dict(zip(names, np.concatenate([background.images, evaluation.images]), strict=True))
    for part in (train, test):
        np.testing.assert_array_equal(part.images, np.stack([pooled[c] for c in part.characters]))
    np.random.seed(7)  # the global generators play no part
    again = meta_split("paper", *_archives(data))
    assert (again[0].characters, again[1].characters) == (train.characters, test.characters)
    assert load_meta_test("paper", data).characters == test.characters
    assert len(list((data.parent / "cache").glob("omniglot_*.npz"))) == 2  # both archives cached as before


def test_paper_split_of_the_official_sizes_is_1200_423():
    def archive(prefix: str, n: int) -> OmniglotSplit:
        return OmniglotSplit(np.zeros((n, 1, 28, 28), np.uint8), tuple(f"{prefix}/character{i:03d}" for i in range(n)))

    train, test = meta_split("paper", archive("A", 964), archive("B", 659))
    assert (len(train.characters), len(test.characters)) == (1200, 423)


def test_paper_split_does_not_depend_on_the_training_seed(data):
    def pools(seed: int):
        classification = ClassificationConfig(data=str(data), split="paper")
        return load_pools(TrainConfig(domain="omniglot", seed=seed, classification=classification))

    (train_a, test_a), (train_b, test_b) = pools(0), pools(12345)
    assert torch.equal(train_a.images, train_b.images) and torch.equal(test_a.images, test_b.images)
    assert (train_a.n_classes, test_a.n_classes) == (4 * 12, 4 * 4)  # with the three rotations


def test_alphabets_split_is_the_two_archives_and_the_default(data):
    background, evaluation = _archives(data)
    train, test = meta_split("alphabets", background, evaluation)
    assert train is background and test is evaluation
    loaded = load_meta_test("alphabets", data)
    assert loaded.characters == evaluation.characters
    np.testing.assert_array_equal(loaded.images, evaluation.images)
    saved = TrainConfig(domain="omniglot").to_dict()
    del saved["classification"]["split"]  # a file written before the option
    assert TrainConfig.from_dict(saved).classification.split == "alphabets"


def test_unknown_split_is_a_clear_error(data, capsys):
    message = "unknown Omniglot split 'random'; choose alphabets or paper."
    with pytest.raises(ConfigError, match=message):
        TrainConfig(domain="omniglot", classification=ClassificationConfig(split="random")).validate()
    with pytest.raises(ConfigError, match=message):
        meta_split("random", *_archives(data))
    with pytest.raises(SystemExit):
        main(["train", "--domain", "omniglot", "--split", "random", "--out", "o.safetensors"])
    assert "argument --split: invalid choice: 'random'" in capsys.readouterr().err


def test_paper_file_records_its_split_and_eval_uses_its_test_part(data, tmp_path, monkeypatch, capsys):
    out = tmp_path / "paper.safetensors"
    args = ["train", "--domain", "omniglot", "--split", "paper", "--ways", "3", "--iters", "2", "--meta-batch", "2"]
    assert main([*args, "--val-tasks", "2", "--data", str(data), "--out", str(out)]) == 0
    _, metadata = read_header(out)
    assert json.loads(metadata["config"])["classification"]["split"] == "paper"
    assert load_initialization(out).config.classification.split == "paper"

    seen = []

    def spy(split, data=None):
        seen.append(load_meta_test(split, data))
        return seen[-1]

    monkeypatch.setattr(domain, "load_meta_test", spy)
    capsys.readouterr()
    assert main(["eval", str(out), "--tasks", "4", "--steps", "1"]) == 0
    assert "meta-test tasks (Omniglot paper split's test characters)" in capsys.readouterr().out
    (test,) = seen
    assert test.characters == meta_split("paper", *_archives(data))[1].characters


def test_hold_out_sets_a_fixed_choice_of_characters_aside(data):
    train, _ = meta_split("paper", *_archives(data))
    kept, held = hold_out(train, 3)
    assert (len(kept.characters), len(held.characters)) == (9, 3)
    assert not set(kept.characters) & set(held.characters)
    assert set(kept.characters) | set(held.characters) == set(train.characters)
    for part in (kept, held):  # each part keeps the split's order and its own drawings
        rows = [train.characters.index(c) for c in part.characters]
        assert rows == sorted(rows)
        np.testing.assert_array_equal(part.images, train.images[rows])
    np.random.seed(3)  # the global generators play no part
    assert hold_out(train, 3)[1].characters == held.characters
    assert hold_out(train, 4)[1].characters != held.characters  # a choice, not the first or last few
    for n in (0, 12):
        with pytest.raises(ConfigError, match=f"cannot hold out {n} of the 12 meta-training characters"):
            hold_out(train, n)


def test_val_characters_validate_on_held_out_training_characters(tmp_path, capsys):
    data = make_omniglot(tmp_path / "distinct", distinct=True, alphabets=2, characters=4)

    def pools(val_characters: int):
        classification = ClassificationConfig(data=str(data), split="paper", val_characters=val_characters)
        return load_pools(TrainConfig(domain="omniglot", classification=classification))

    (_, test), (kept, validation) = pools(0), pools(2)
    assert (kept.n_classes, validation.n_classes) == (4 * 10, 4 * 2)
    _, held = hold_out(meta_split("paper", *_archives(data))[0], 2)
    held_images = torch.from_numpy(held.images)
    assert torch.equal(validation.images[0], held_images)  # rotation 0: the held-out characters' drawings
    assert not any(torch.equal(image, held_images[0]) for image in kept.images[0])
    assert not any(torch.equal(image, held_images[0]) for image in test.images[0])

    out = tmp_path / "held.safetensors"
    args = ["train", "--domain", "omniglot", "--split", "paper", "--ways", "3", "--iters", "2", "--meta-batch", "2"]
    args += ["--val-tasks", "2", "--data", str(data)]
    assert main([*args, "--val-characters", "2", "--out", str(out)]) == 0
    assert load_initialization(out).config.classification.val_characters == 2
    capsys.readouterr()
    assert main([*args, "--ways", "20", "--val-characters", "2", "--out", str(out)]) == 2
    assert "20-way validation tasks need 20 classes; the validation characters give 8" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args, "--val-characters", "-1", "--out", str(out)])
    assert "argument --val-characters: expected a whole number from 0, got -1" in capsys.readouterr().err
