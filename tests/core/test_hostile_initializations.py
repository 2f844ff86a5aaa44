"""Initialization files that lie (issue 12, "Files that lie"): each is generated here and refused in one sentence,
before anything large is read; the memory bombs run in a subprocess under an address-space limit."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from mamlviz.cli import main
from mamlviz.core.checkpoint import Initialization, load_initialization, require_domain, save_initialization
from mamlviz.core.config import ClassificationConfig, TrainConfig
from mamlviz.core.errors import CheckpointError, MamlvizError
from mamlviz.core.model import init_params
from mamlviz.core.omniglot.convnet import init_conv_params
from tests.core.omniglot.fixtures import make_omniglot

ADDRESS_SPACE = 3 * 2**30
"""RLIMIT_AS of the memory-bomb subprocesses: torch and mamlviz import in ~0.65 GB of address space (VmPeak),
so 3 GiB leaves room for a real load while a 4 GB, 6.4 GB or 40 GB allocation fails at once."""
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sinusoid_file(tmp_path: Path) -> Path:
    config = TrainConfig(iterations=10)
    init = Initialization(init_params(config.model, torch.Generator().manual_seed(0)), config, "maml", 10)
    path = tmp_path / "sinusoid.safetensors"
    save_initialization(path, init)
    return path


def omniglot_file(path: Path, ways: int, data: str = "") -> Path:
    config = TrainConfig(domain="omniglot", inner_lr=0.4, classification=ClassificationConfig(ways=ways, data=data))
    params = init_conv_params(config.classification.filters, ways, torch.Generator().manual_seed(0))
    save_initialization(path, Initialization(params, config, "maml", 1))
    return path


def rewrite(source: Path, target: Path, metadata: dict[str, str] | None = None, tensors: dict | None = None) -> Path:
    """`source` saved again with some metadata entries and tensors replaced."""
    with safe_open(source, framework="pt") as fh:
        old_metadata = fh.metadata()
        old_tensors = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118
    save_file({**old_tensors, **(tensors or {})}, target, metadata={**old_metadata, **(metadata or {})})
    return target


def write_raw(target: Path, metadata: dict[str, str], tensors: dict[str, tuple[str, list[int]]]) -> Path:
    """A safetensors file whose header claims these (dtype, shape) tensors; the data is a hole (sparse on disk)."""
    sizes = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8, "I64": 8, "U8": 1, "BOOL": 1}
    header, offset = {"__metadata__": metadata}, 0
    for name, (dtype, shape) in tensors.items():
        size = math.prod(shape) * sizes[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with target.open("wb") as fh:
        fh.write(len(encoded).to_bytes(8, "little") + encoded)
        fh.truncate(8 + len(encoded) + offset)
    return target


def shapes_and_metadata(path: Path) -> tuple[dict[str, tuple[str, list[int]]], dict[str, str]]:
    with safe_open(path, framework="pt") as fh:
        return {name: ("F32", list(fh.get_slice(name).get_shape())) for name in fh.keys()}, fh.metadata()  # noqa: SIM118


def one_sentence(text: str) -> str:
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.parametrize("metrics", ["[1, 2]", '"fast"', "null", "3.5"])
def test_metrics_that_are_not_an_object_are_refused(sinusoid_file, tmp_path, metrics):
    bad = rewrite(sinusoid_file, tmp_path / "bad.safetensors", {"metrics": metrics})
    with pytest.raises(CheckpointError, match=r"metrics are .*, not an object"):
        load_initialization(bad)


def test_loaded_metrics_are_always_a_dict(sinusoid_file, tmp_path):
    for text in ('{"eval_K5": {"mse": [1.0]}}', "{}"):
        init = load_initialization(rewrite(sinusoid_file, tmp_path / "ok.safetensors", {"metrics": text}))
        assert isinstance(init.metrics, dict)
    assert load_initialization(sinusoid_file).metrics == {}


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.uint8, torch.bool])
def test_integer_and_bool_tensors_are_refused_naming_the_tensor(sinusoid_file, tmp_path, dtype):
    weight = torch.ones(40, 1, dtype=dtype)
    bad = rewrite(sinusoid_file, tmp_path / "int.safetensors", tensors={"0.weight": weight})
    with pytest.raises(CheckpointError, match=r"tensor 0\.weight holds .* values, but weights must be floating point"):
        load_initialization(bad)
    state = dict(load_initialization(sinusoid_file).params) | {"0.weight": weight}
    torch.save(state, tmp_path / "int.pt")
    with pytest.raises(CheckpointError, match=r"tensor 0\.weight holds .* floating point"):
        load_initialization(tmp_path / "int.pt")


def test_a_float64_file_still_loads(sinusoid_file, tmp_path):
    init = load_initialization(sinusoid_file)
    doubles = {k: v.double() for k, v in init.params.items()}
    assert load_initialization(rewrite(sinusoid_file, tmp_path / "f64.safetensors", tensors=doubles)).params


def test_an_oracle_on_a_one_input_network_is_refused(sinusoid_file, tmp_path, capsys):
    bad = rewrite(sinusoid_file, tmp_path / "oracle.safetensors", {"algorithm": "oracle"})
    with pytest.raises(CheckpointError, match=r"the oracle takes 3 inputs .* this sinusoid network takes 1"):
        load_initialization(bad)
    assert main(["eval", str(bad), "--tasks", "2", "--steps", "1"]) == 2
    assert one_sentence(capsys.readouterr().err).startswith("error: ")


@pytest.mark.parametrize("key", ["config", "metrics", "architecture"])
def test_metadata_nested_100000_deep_is_one_sentence(sinusoid_file, tmp_path, key):
    deep = "[" * 100_000 + "]" * 100_000
    bad = rewrite(sinusoid_file, tmp_path / "deep.safetensors", {key: deep})
    with pytest.raises(CheckpointError, match=r"nested too deeply \(more than 64 levels\)"):
        load_initialization(bad)


def test_a_session_nested_100000_deep_is_one_sentence(tmp_path):
    from mamlviz.core.sessions import SessionError, load_session

    path = tmp_path / "deep.json"
    path.write_text('{"format": "mamlviz-session", "view": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(SessionError, match=r"nested too deeply \(more than 64 levels\)"):
        load_session(path)


def test_omniglot_and_sinusoid_files_are_routed_by_domain(sinusoid_file, tmp_path):
    omniglot = omniglot_file(tmp_path / "omniglot.safetensors", 5)
    with pytest.raises(CheckpointError, match=r"initialization for omniglot .*\(domain omniglot\), not for sinusoid"):
        load_initialization(omniglot, domain="sinusoid")
    with pytest.raises(CheckpointError, match=r"\(domain sinusoid\), not for omniglot"):
        load_initialization(sinusoid_file, domain="omniglot")
    assert load_initialization(omniglot, domain="omniglot").config.domain == "omniglot"
    init = load_initialization(sinusoid_file, domain="sinusoid")
    require_domain(init, "sinusoid", "x")


@pytest.fixture
def omniglot_data(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))
    return make_omniglot(tmp_path / "omniglot", characters=3)  # 2 alphabets × 3 characters × 4 rotations: 24 classes


def test_a_twenty_way_file_is_not_evaluated_as_five_way(omniglot_data, tmp_path, capsys):
    path = omniglot_file(tmp_path / "o20.safetensors", 20, str(omniglot_data))
    args = ["eval", str(path), "--tasks", "2", "--steps", "1", "--data", str(omniglot_data)]
    assert main([*args, "--ways", "5"]) == 2
    err = one_sentence(capsys.readouterr().err)
    assert "meta-trained for 20-way tasks" in err and "--ways 20" in err
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["ways"] == 20


def test_omniglot_eval_with_twenty_shots_is_one_sentence(omniglot_data, tmp_path, capsys):
    path = omniglot_file(tmp_path / "o5.safetensors", 5, str(omniglot_data))
    args = ["eval", str(path), "--tasks", "2", "--steps", "1", "--data", str(omniglot_data)]
    assert main([*args, "--shots", "20"]) == 2
    assert "use at most 19 shots" in one_sentence(capsys.readouterr().err)
    assert main([*args, "--shots", "19"]) == 0


def run_limited(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run Python `code` in a fresh interpreter whose address space is limited to ADDRESS_SPACE."""
    prelude = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE}, {ADDRESS_SPACE}))\n"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
    )


def test_oversized_tensors_are_refused_from_the_header(sinusoid_file, tmp_path):
    shapes, metadata = shapes_and_metadata(sinusoid_file)
    lslr = {**json.loads(metadata["config"]), "lslr": True, "inner_steps": 5}
    bombs = {
        # a 12 KB sparse file whose learned step size claims 10⁹ rows (4 GB), and one of 10⁷ rows (40 MB)
        "rows": ({**metadata, "config": json.dumps(lslr)}, {**shapes, "inner_lr.4.bias": ("F32", [10**9, 1])}),
        "rows7": ({**metadata, "config": json.dumps(lslr)}, {**shapes, "inner_lr.4.bias": ("F32", [10**7, 1])}),
        # 6.4 GB under a parameter's name, 40 GB under another name
        "6.4GB": (metadata, {**shapes, "0.weight": ("F32", [40_000, 40_000])}),
        "40GB": (metadata, {**shapes, "junk": ("F32", [100_000, 100_000])}),
        # within the number cap, but not the shape the config's network needs
        "shape": (metadata, {**shapes, "2.weight": ("F32", [4000, 4000])}),
    }
    files = {name: write_raw(tmp_path / f"{name}.safetensors", *bomb) for name, bomb in bombs.items()}
    assert os.stat(files["rows"]).st_blocks * 512 < 64 * 1024 < os.path.getsize(files["rows"])
    result = run_limited(
        f"""
        import json, sys
        from mamlviz.core.checkpoint import load_initialization
        from mamlviz.core.errors import CheckpointError
        report = {{}}
        for name, path in {json.dumps({k: str(v) for k, v in files.items()})}.items():
            try:
                load_initialization(path)
                report[name] = "loaded"
            except CheckpointError as exc:
                report[name] = str(exc)
        load_initialization({str(sinusoid_file)!r})  # a real file still loads under the same limit
        print(json.dumps(report))
        """
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "tensor inner_lr.4.bias alone has shape (1000000000, 1)" in report["rows"]
    assert "inner_lr.4.bias has 10,000,000 rows, one per inner step" in report["rows7"]
    assert "more than 40,000,000 numbers" in report["6.4GB"]
    assert "more than 40,000,000 numbers" in report["40GB"]
    assert "tensor 2.weight has shape (4000, 4000)" in report["shape"]


def test_oversized_files_are_one_sentence_from_the_cli(sinusoid_file, tmp_path):
    shapes, metadata = shapes_and_metadata(sinusoid_file)
    bomb = write_raw(tmp_path / "bomb.safetensors", metadata, {**shapes, "junk": ("F32", [100_000, 100_000])})
    trailing = tmp_path / "trailing.safetensors"
    trailing.write_bytes(sinusoid_file.read_bytes())
    with trailing.open("r+b") as fh:
        fh.truncate(40 * 10**9)  # a valid file followed by a 40 GB hole
    for path in (bomb, trailing):
        result = run_limited(
            f"import sys; from mamlviz.cli import main; sys.exit(main(['eval', {str(path)!r}, '--tasks', '2']))"
        )
        assert result.returncode == 2, result.stderr
        assert one_sentence(result.stderr).startswith(f"error: {path}")


def config_json() -> dict:
    return json.loads(json.dumps(TrainConfig().to_dict()))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": {"hidden": [10**9]}}, "hidden size must be a whole number from 1 to 9,?999"),
        ({"model": {"hidden": [9999] * 16}}, "parameters, more than the 20,000,000 allowed"),
        ({"model": {"hidden": [2000, 2000]}}, "validation would keep 100 tasks"),
        ({"meta_batch": 10**6}, "meta batch must be a whole number from 1 to 1,?000"),
        ({"val_tasks": 10**8}, "val tasks must be a whole number from 1 to 10,000"),
    ],
)
def test_sessions_share_the_bounds(change, message):
    from mamlviz.core.sessions import FORMAT, FORMAT_VERSION, parse_session

    document = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": {**config_json(), **change}}
    with pytest.raises(MamlvizError, match=message):
        parse_session(document)


class Untouchable(list):
    """A list that fails the test if anything reads its items (only its length may be asked)."""

    def __iter__(self):
        raise AssertionError("the points were read before their number was checked")

    def __getitem__(self, index):
        raise AssertionError("the points were read before their number was checked")


def test_a_session_with_a_million_points_is_refused_before_reading_them():
    from mamlviz.core.sessions import FORMAT, FORMAT_VERSION, MAX_POINTS, parse_session

    points = Untouchable([[0.0, 0.0]] * 1_000_000)
    document = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": config_json(), "points": points}
    with pytest.raises(MamlvizError, match=f"at most {MAX_POINTS}"):
        parse_session(document)


def test_a_session_oracle_on_a_one_input_network_is_refused(sinusoid_file, tmp_path):
    from mamlviz.core.sessions import Session, SessionError, load_session, save_session

    init = load_initialization(sinusoid_file)
    liar = Initialization(init.params, init.config, "oracle", 1)
    path = tmp_path / "oracle.json"
    save_session(path, Session(TrainConfig(), None, np.zeros((0, 2)), {}, {"liar": liar}))
    with pytest.raises(SessionError, match="says it is an oracle, but the oracle takes 3 inputs"):
        load_session(path)
