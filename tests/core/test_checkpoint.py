import json
import pickle
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import save_file

from mamlviz.core.checkpoint import Initialization, load_initialization, save_initialization
from mamlviz.core.config import ModelConfig, TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.errors import CheckpointError
from mamlviz.core.model import expand_to_tasks, forward, init_params

CFG = TrainConfig(iterations=5, seed=4, model=ModelConfig(hidden=(12, 7)))


@pytest.fixture
def saved(tmp_path):
    params = init_params(CFG.model, default_generator(1))
    init = Initialization(params, CFG, "maml", 5, {"eval_K5": {"mse": [1.0, 0.5]}})
    path = tmp_path / "init.safetensors"
    save_initialization(path, init)
    return path, init


def test_round_trip_keeps_params_and_metadata(saved):
    path, init = saved
    loaded = load_initialization(path)
    assert loaded.config == CFG and loaded.algorithm == "maml" and loaded.iterations == 5
    assert loaded.metrics == init.metrics
    for k, v in init.params.items():
        assert torch.equal(loaded.params[k], v)
    assert not list(path.parent.glob("*.tmp"))


def test_plain_pytorch_loads_it_without_mamlviz(saved, tmp_path):
    path, init = saved
    script = textwrap.dedent(f"""
        import sys, torch
        from safetensors.torch import load_file
        model = torch.nn.Sequential(torch.nn.Linear(1, 12), torch.nn.ReLU(), torch.nn.Linear(12, 7),
                                    torch.nn.ReLU(), torch.nn.Linear(7, 1))
        model.load_state_dict(load_file({str(path)!r}))
        x = torch.linspace(-5, 5, 11).unsqueeze(1)
        print(model(x).squeeze(1).tolist())
        assert not any(name.startswith("mamlviz") for name in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    plain = torch.tensor(json.loads(out.stdout))
    x = torch.linspace(-5, 5, 11).unsqueeze(1)
    ours = forward(expand_to_tasks(init.params, 1), x[None])[0, :, 0]
    torch.testing.assert_close(plain, ours)


def test_missing_truncated_and_foreign_files(saved, tmp_path):
    path, _ = saved
    with pytest.raises(CheckpointError, match="no such file"):
        load_initialization(tmp_path / "nope.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="not a valid"):
        load_initialization(truncated)
    text = tmp_path / "text.safetensors"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a valid"):
        load_initialization(text)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a mamlviz initialization"):
        load_initialization(foreign)


def test_wrong_architecture_and_nan_are_refused(saved, tmp_path):
    _path, init = saved
    params = dict(init.params)
    params["2.weight"] = torch.zeros(3, 12)
    with pytest.raises(CheckpointError, match="shape"):
        save_initialization(tmp_path / "bad.safetensors", Initialization(params, CFG, "maml"))
    params = dict(init.params)
    params["0.bias"] = params["0.bias"].clone()
    params["0.bias"][0] = float("nan")
    bad = tmp_path / "nan.safetensors"
    metadata = {
        "format": "mamlviz-init",
        "format_version": "1",
        "architecture": json.dumps({"type": "mlp", "activation": "relu", "sizes": [1, 12, 7, 1]}),
        "algorithm": "maml",
        "config": json.dumps(CFG.to_dict()),
    }
    save_file(params, bad, metadata=metadata)
    with pytest.raises(CheckpointError, match="NaN"):
        load_initialization(bad)
    metadata["architecture"] = json.dumps({"type": "mlp", "activation": "relu", "sizes": [1, 40, 40, 1]})
    save_file(init.params, bad, metadata=metadata)
    with pytest.raises(CheckpointError, match="architecture"):
        load_initialization(bad)


class _Payload:
    def __reduce__(self):
        return (exec, ("open('PWNED', 'w').write('x')",))


def test_pt_state_dict_loads_and_pickled_code_is_refused(saved, tmp_path, monkeypatch):
    _, init = saved
    good = tmp_path / "state.pt"
    torch.save(init.params, good)
    loaded = load_initialization(good)
    assert loaded.config.model.hidden == (12, 7)
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as fh:
        pickle.dump({"0.weight": _Payload()}, fh)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match="refused"):
        load_initialization(evil)
    assert not (tmp_path / "PWNED").exists()
