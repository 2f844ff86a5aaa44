"""Export and load trained initializations as `.safetensors` files.

Tensor names are exactly the `state_dict` of the equivalent `torch.nn.Sequential`
(`make_mlp`), so plain PyTorch loads them with `safetensors.torch.load_file` +
`load_state_dict`. Inner learning rates learned by Meta-SGD or MAML++ (LSLR) are stored as extra
tensors named `inner_lr.<parameter name>` (shape (S, ...) broadcastable to the parameter; inner
step s uses row min(s, S − 1)): pass `strict=False` to `load_state_dict`, or drop the names that
start with `inner_lr.`. The string metadata carries everything needed to rebuild and judge the
model: format version, architecture, algorithm, full training config, iterations, seed and
evaluation metrics. Writes are atomic (temporary file + rename).
"""

from __future__ import annotations

import glob
import json
import math
import os
import pickle
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from mamlviz.core import registry
from mamlviz.core.algorithms import InnerLoop, inner_loop_for
from mamlviz.core.config import SETTING_LIMITS, ModelConfig, TrainConfig
from mamlviz.core.errors import CheckpointError, ConfigError
from mamlviz.core.jsonio import loads_bounded
from mamlviz.core.model import Params, layer_names

FORMAT = "mamlviz-init"
FORMAT_VERSION = 1
INNER_LR_PREFIX = "inner_lr."


@dataclass(frozen=True)
class Initialization:
    """A trained initialization θ with the config that produced it."""

    params: Params
    config: TrainConfig
    algorithm: str
    iterations: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    inner_lrs: Params | None = None
    """Learned inner step sizes by parameter name (Meta-SGD, MAML++ LSLR), else None."""

    def inner_loop(self, lr: float | None = None) -> InnerLoop:
        """How it adapts: its learned step sizes, else SGD with α = `lr` (or its config's); ANIL: the head only."""
        return inner_loop_for(self.config, self.inner_lrs, lr, algo=self.algorithm)


def split_inner_lrs(tensors: Params) -> tuple[Params, Params]:
    """Separate the model's parameters from `inner_lr.*` learned step sizes (prefix removed)."""
    params = {k: v for k, v in tensors.items() if not k.startswith(INNER_LR_PREFIX)}
    lrs = {k.removeprefix(INNER_LR_PREFIX): v for k, v in tensors.items() if k.startswith(INNER_LR_PREFIX)}
    return params, lrs


def architecture(model: ModelConfig) -> dict[str, Any]:
    return {"type": "mlp", "activation": "relu", "sizes": list(model.sizes)}


def config_architecture(config: TrainConfig, params: Params) -> dict[str, Any]:
    """The network of a config, as its domain describes it (e.g. the MLP, or the conv net with its head size)."""
    return registry.get(config.domain).architecture(config, params)


def check_config_params(params: Params, config: TrainConfig, source: str) -> None:
    """Names, shapes and finiteness of θ against the config's network."""
    registry.get(config.domain).check_params(params, config, source)


def save_initialization(path: str | Path, init: Initialization) -> None:
    """Write θ and its metadata atomically to a `.safetensors` file."""
    path = Path(path)
    check_config_params(init.params, init.config, str(path))
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "architecture": json.dumps(config_architecture(init.config, init.params)),
        "algorithm": init.algorithm,
        "config": json.dumps(init.config.to_dict()),
        "iterations": str(init.iterations),
        "seed": str(init.config.seed),
        "metrics": json.dumps(init.metrics),
    }
    check_inner_lrs(init.inner_lrs or {}, init.params, str(path))
    lrs = {INNER_LR_PREFIX + k: v for k, v in (init.inner_lrs or {}).items()}
    tensors = {k: v.detach().cpu().float().contiguous() for k, v in {**init.params, **lrs}.items()}
    try:
        _atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))
    except SafetensorError as exc:
        raise CheckpointError(f"cannot write {path}: {exc}.") from None


def check_writable(path: str | Path) -> None:
    """Refuse a target that is not a regular file (device, FIFO, link, folder) or sits in a folder we cannot write."""
    path = Path(path)
    directory = path.parent
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise CheckpointError(f"cannot write {path}: it exists and is not a regular file; choose a file name.")
    if not directory.is_dir():
        raise CheckpointError(f"cannot write {path}: folder {directory} does not exist.")
    probe = _temporary(path)
    try:
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(f"permission denied: {directory}")
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as exc:
        raise CheckpointError(f"cannot write {path}: folder {directory} is not writable ({exc}).") from None


def _temporary(path: Path) -> Path:
    """A fresh `.NAME.PID-HEX.tmp` beside the target (the pid lets a later write find a dead writer's leftovers)."""
    return path.parent / f".{path.name}.{os.getpid()}-{uuid.uuid4().hex}.tmp"


def _remove_stale_temporaries(path: Path) -> None:
    """Delete `.NAME.PID-HEX.tmp` files of this target left by a writer that no longer runs (killed mid-write)."""
    prefix = f".{path.name}."
    for tmp in path.parent.glob(glob.escape(prefix) + "*.tmp"):
        pid = tmp.name[len(prefix) : -len(".tmp")].partition("-")[0]
        if pid != str(os.getpid()) and not _process_alive(pid, tmp):
            tmp.unlink(missing_ok=True)


def _process_alive(pid: str, tmp: Path) -> bool:
    """Whether the writer of a temporary file may still be running (where pids cannot be probed: under an hour old)."""
    if not pid.isdigit():
        return False
    if os.name == "nt":
        return time.time() - tmp.stat().st_mtime < 3600
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _atomic_write(path: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, then rename it into place (mode 0666 less the umask)."""
    check_writable(path)
    _remove_stale_temporaries(path)
    tmp = _temporary(path)
    try:
        write(str(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def load_initialization(path: str | Path, domain: str | None = None) -> Initialization:
    """Load and validate an initialization (`.safetensors` from mamlviz, or a plain `.pt` state dict).

    A `.safetensors` file is judged by its header first (bounded size and nesting, floating-point tensors whose
    names and shapes are those of the network its metadata describes, sizes that add up to the file's), so a
    file that lies about its tensors is refused before any of them is read. With `domain`, a file of another
    domain is refused with a sentence naming both (`require_domain`).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no such file: {path}.")
    if path.suffix == ".pt":
        init = _load_state_dict_pt(path)
    else:
        entries, metadata = read_header(path)
        parsed = _parse_metadata(path, metadata)
        _check_header_tensors(path, entries, parsed[1])
        try:
            with safe_open(path, framework="pt") as fh:
                params = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{path} is not a valid .safetensors file (damaged or truncated?): {exc}.") from None
        init = _from_parsed(path, params, parsed)
    if domain is not None:
        require_domain(init, domain, str(path))
    return init


def require_domain(init: Initialization, domain: str, source: str) -> None:
    """Refuse an initialization of another domain than `domain` (e.g. an Omniglot file where a sinusoid one goes)."""
    if init.config.domain != domain:
        found, wanted = registry.get(init.config.domain).label, registry.get(domain).label
        raise CheckpointError(
            f"{source} is an initialization for {found.lower()} (domain {init.config.domain}), "
            f"not for {wanted.lower()}; open it where {init.config.domain} initializations go."
        )


MAX_HEADER_BYTES = 16 * 2**20
"""A mamlviz header is a few kilobytes (names, shapes, config, metrics); safetensors itself stops at 100 MB."""
FLOAT_DTYPES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}
"""Safetensors dtypes a weight may have, with their sizes in bytes."""
MAX_FILE_NUMBERS = 2 * SETTING_LIMITS["parameters"][1]
"""Numbers a file may hold: the largest network's parameters and as many learned step sizes (Meta-SGD)."""


def read_header(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The tensor entries and the string metadata of a `.safetensors` header, read without touching any tensor.

    The header's length, nesting, dtypes (floating point only), element counts and byte offsets are checked,
    and its tensors must fill the rest of the file exactly; else a `CheckpointError` in one sentence."""
    invalid = f"{path} is not a valid .safetensors file (damaged or truncated?)"
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            prefix = fh.read(8)
            length = int.from_bytes(prefix, "little") if len(prefix) == 8 else -1
            if not 0 < length <= min(MAX_HEADER_BYTES, size - 8):
                raise CheckpointError(f"{invalid}: its header length {length} does not fit the file.")
            header = loads_bounded(fh.read(length).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{invalid}: {exc}.") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{invalid}: its header is not a JSON object.")
    metadata = header.pop("__metadata__", None) or {}
    if not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise CheckpointError(f"{invalid}: its metadata is not a map of strings.")
    if metadata.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a safetensors file but not a mamlviz initialization (no '{FORMAT}' metadata)."
        )
    end, numbers = 0, 0
    for name, entry in header.items():
        shape = entry.get("shape") if isinstance(entry, dict) else None
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        dtype = entry.get("dtype") if isinstance(entry, dict) else None
        if not (
            isinstance(shape, list)
            and all(_whole(n) and n >= 0 for n in shape)
            and isinstance(offsets, list)
            and len(offsets) == 2
            and all(_whole(n) for n in offsets)
            and isinstance(dtype, str)
        ):
            raise CheckpointError(f"{invalid}: tensor {name} has no valid dtype, shape and data offsets.")
        if dtype not in FLOAT_DTYPES:
            raise CheckpointError(
                f"{path}: tensor {name} holds {dtype} values, but weights must be floating point "
                f"({', '.join(FLOAT_DTYPES)})."
            )
        count = math.prod(shape)
        numbers += count
        if numbers > MAX_FILE_NUMBERS:
            raise CheckpointError(
                f"{path}: its tensors claim more than {MAX_FILE_NUMBERS:,} numbers (tensor {name} alone has "
                f"shape {tuple(shape)}), more than any network mamlviz trains."
            )
        begin, stop = offsets
        if not 0 <= begin <= stop or stop - begin != count * FLOAT_DTYPES[dtype]:
            raise CheckpointError(f"{invalid}: tensor {name}'s data offsets do not match its shape and dtype.")
        end = max(end, stop)
    if 8 + length + end != size:
        raise CheckpointError(f"{invalid}: its tensors need {8 + length + end:,} bytes, but the file has {size:,}.")
    return header, metadata


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_header_tensors(path: Path, entries: dict[str, dict[str, Any]], config: TrainConfig) -> None:
    """Names and shapes of a header's tensors against the network of its config, with nothing allocated."""
    shapes = {name: torch.empty(entry["shape"], device="meta") for name, entry in entries.items()}
    params, lrs = split_inner_lrs(shapes)
    check_config_params(params, config, str(path))
    check_inner_lrs(lrs, params, str(path))


def _parse_metadata(path: Path, metadata: dict[str, str]) -> tuple[Any, TrainConfig, int, dict[str, Any], str]:
    """(architecture, config, iterations, metrics, algorithm) of a header's metadata, validated."""
    if metadata.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a safetensors file but not a mamlviz initialization (no '{FORMAT}' metadata)."
        )
    try:
        version = int(metadata["format_version"])
        if version > FORMAT_VERSION:
            raise CheckpointError(f"{path} has format version {version}; this mamlviz reads up to {FORMAT_VERSION}.")
        arch = loads_bounded(metadata["architecture"])
        config_data = loads_bounded(metadata["config"])
        if not isinstance(config_data, dict):
            raise ValueError("the training config is not a JSON object")
        config = TrainConfig.from_dict(config_data)
        iterations = int(metadata.get("iterations", "0"))
        metrics = loads_bounded(metadata.get("metrics", "{}"))
        algorithm = metadata["algorithm"]
    except (KeyError, ValueError, TypeError, ConfigError) as exc:
        raise CheckpointError(f"{path} has damaged metadata: {str(exc).rstrip('.')}.") from None
    if not isinstance(metrics, dict):
        raise CheckpointError(f"{path} has damaged metadata: its metrics are {type(metrics).__name__}, not an object.")
    check_algorithm(algorithm, config, str(path))
    return arch, config, iterations, metrics, algorithm


def check_algorithm(algorithm: str, config: TrainConfig, source: str) -> None:
    """An initialization that says it is the oracle must have the oracle's inputs (x and the task's parameters)."""
    oracle = registry.get(config.domain).oracle_inputs
    if algorithm == "oracle" and config.model.in_features != oracle[0]:
        raise CheckpointError(
            f"{source} says it is an oracle, but the oracle takes {oracle[0]} inputs {oracle[1]} "
            f"and this {config.domain} network takes {config.model.in_features}."
        )


def _from_metadata(path: Path, tensors: Params, metadata: dict[str, str]) -> Initialization:
    return _from_parsed(path, tensors, _parse_metadata(path, metadata))


def _from_parsed(
    path: Path, tensors: Params, parsed: tuple[Any, TrainConfig, int, dict[str, Any], str]
) -> Initialization:
    arch, config, iterations, metrics, algorithm = parsed
    params, lrs = split_inner_lrs(tensors)
    if arch != config_architecture(config, params):
        raise CheckpointError(f"{path}: architecture {arch} does not match its training config.")
    check_config_params(params, config, str(path))
    check_inner_lrs(lrs, params, str(path))
    return Initialization(params, config, algorithm, iterations, metrics, lrs or None)


def _load_state_dict_pt(path: Path) -> Initialization:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path} was refused: it contains objects other than plain tensors, and nothing in it was executed ({exc})."
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"{path} is not a readable PyTorch state dict: {exc}.") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} is not a state dict of tensors.")
    model = infer_model(state, str(path))
    return Initialization(dict(state), replace(TrainConfig(), model=model), "unknown")


def infer_model(state: Params, source: str) -> ModelConfig:
    """The MLP a Sequential state dict describes (0.weight, 2.weight, ... in order)."""
    weights = [state.get(f"{2 * i}.weight") for i in range(len(state) // 2)]
    if len(state) < 4 or len(state) % 2 or any(w is None or w.dim() != 2 for w in weights):
        raise CheckpointError(f"{source} is not the state dict of a ReLU MLP (nn.Sequential of Linear/ReLU).")
    sizes = [weights[0].shape[1], *(w.shape[0] for w in weights)]
    model = ModelConfig(hidden=tuple(sizes[1:-1]), in_features=sizes[0], out_features=sizes[-1])
    check_params(state, model, source)
    return model


def check_params(params: Params, model: ModelConfig, source: str) -> None:
    """Names, shapes and finiteness of θ against the architecture."""
    sizes = model.sizes
    expected = {}
    for (w_name, b_name), fan_in, fan_out in zip(layer_names(model), sizes[:-1], sizes[1:], strict=True):
        expected[w_name] = (fan_out, fan_in)
        expected[b_name] = (fan_out,)
    check_expected(params, expected, str(list(sizes)), source)


def check_expected(params: Params, expected: dict[str, tuple[int, ...]], description: str, source: str) -> None:
    """θ has exactly the expected tensor names and shapes, all finite (else a `CheckpointError` naming `source`)."""
    if set(params) != set(expected):
        raise CheckpointError(
            f"{source} does not match the architecture {description}: "
            f"expected tensors {sorted(expected)}, found {sorted(params)}."
        )
    for name, shape in expected.items():
        if tuple(params[name].shape) != shape:
            raise CheckpointError(
                f"{source}: tensor {name} has shape {tuple(params[name].shape)}, expected {shape} "
                f"for the architecture {description}."
            )
        if not params[name].is_floating_point():
            raise CheckpointError(
                f"{source}: tensor {name} holds {params[name].dtype} values, but weights must be floating point."
            )
        if not params[name].is_meta and not bool(torch.isfinite(params[name]).all()):
            raise CheckpointError(f"{source}: tensor {name} contains NaN or infinite values.")


def check_inner_lrs(lrs: Params, params: Params, source: str) -> None:
    """Learned step sizes: named after parameters, shaped (S, ...) broadcastable to them, finite."""
    for name, lr in lrs.items():
        if name not in params:
            raise CheckpointError(f"{source}: learned step size {INNER_LR_PREFIX}{name} names no parameter.")
        shape = tuple(params[name].shape)
        rows = tuple(lr.shape[1:])
        broadcastable = len(rows) == len(shape) and all(a in (1, b) for a, b in zip(rows, shape, strict=True))
        if not broadcastable or lr.shape[0] < 1:
            raise CheckpointError(
                f"{source}: learned step size {INNER_LR_PREFIX}{name} has shape {tuple(lr.shape)}, "
                f"expected (steps, ...) broadcastable to {shape}."
            )
        max_steps = SETTING_LIMITS["inner_steps"][1]
        if lr.shape[0] > max_steps:
            raise CheckpointError(
                f"{source}: learned step size {INNER_LR_PREFIX}{name} has {lr.shape[0]:,} rows, "
                f"one per inner step, but a run has at most {max_steps} inner steps."
            )
        if not lr.is_floating_point():
            raise CheckpointError(
                f"{source}: learned step size {INNER_LR_PREFIX}{name} holds {lr.dtype} values, "
                "but step sizes must be floating point."
            )
        if not lr.is_meta and not bool(torch.isfinite(lr).all()):
            raise CheckpointError(f"{source}: learned step size {INNER_LR_PREFIX}{name} has NaN or infinite values.")
