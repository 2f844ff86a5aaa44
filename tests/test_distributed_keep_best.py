"""torchrun with `--keep-best`: rank 0 alone validates, keeps and writes; the ranks stay in step."""

import pytest
import torch

from mamlviz.core.checkpoint import load_initialization
from tests.test_distributed import RANKS_CANNOT_START, _train


def test_two_ranks_keep_the_same_best_iterate_as_one(tmp_path):
    args = ["--iters", "40", "--meta-batch", "6", "--hidden", "16,16", "--val-every", "5", "--val-tasks", "20"]
    args += ["--meta-lr", "0.03", "--keep-best", "--compile", "off"]
    one, two = _train(args, tmp_path / "one.safetensors", 1), _train(args, tmp_path / "two.safetensors", 2)
    assert one.returncode == 0, one.stderr[-2000:]
    if two.returncode != 0 and any(reason in two.stderr for reason in RANKS_CANNOT_START):
        pytest.skip("two ranks could not start on this machine's loopback interface.")
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stderr.count("kept iteration") == 1 and two.stderr.count("saved ") == 1  # rank 0 alone
    a, b = load_initialization(tmp_path / "one.safetensors"), load_initialization(tmp_path / "two.safetensors")
    assert a.metrics["keep_best"]["chosen"] and a.metrics["keep_best"]["iteration"] < 40  # a choice was made
    assert b.metrics["keep_best"]["iteration"] == a.metrics["keep_best"]["iteration"] == a.iterations == b.iterations
    for name, value in a.params.items():
        torch.testing.assert_close(b.params[name], value, rtol=1e-4, atol=1e-5)
