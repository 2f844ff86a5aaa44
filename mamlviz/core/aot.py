"""Programs compiled ahead of time with AOTInductor, kept on disk once per machine and loaded without tracing.

`load_or_compile` exports a module (`torch.export`), compiles it into a package of C++ (`aoti_compile_and_package`)
and keeps the package in Inductor's cache folder under a key that names everything the compiled code depends on:
the program and its static arguments, each input's shape, dtype, stride and device, torch's version, the CPU and
the source of `mamlviz.core`. A later process with the same key loads the package in milliseconds, with no
import of Dynamo or Inductor; `torch.compile` paid about 3.3 s there (its imports and its trace of the program),
and its calls went through guards and wrappers that cost more than a tenth of a sinusoid meta-iteration
(`benchmarks/bench_core.py`).
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import os
import platform
import re
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor

Program = Callable[[list[Tensor]], list[Tensor]]
"""A loaded package: called with the flat list of inputs (mutated in place where the program does), it returns the
flat list of outputs."""

FOLDER = "mamlviz_aot"
"""The packages' folder inside Inductor's cache folder."""


def cache_folder() -> Path:
    """Inductor's cache folder (`TORCHINDUCTOR_CACHE_DIR`, by default torchinductor_<user> in the temporary folder),
    as Inductor names it, without importing Inductor (over a second), and the packages' folder in it."""
    root = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if root is None:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = f"uid_{os.getuid()}" if hasattr(os, "getuid") else "unknown_user"
        root = os.path.join(tempfile.gettempdir(), "torchinductor_" + re.sub(r'[\\/:*?"<>|]', "_", user))
    return Path(root).absolute() / FOLDER


@functools.cache
def _machine_and_source() -> str:
    """What every package depends on beyond its inputs: torch, the CPU and its instruction sets, and the source of
    `mamlviz.core` (its top-level modules, which hold every compiled program)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    cpu = platform.processor()
    try:
        flags = re.search(r"^flags\s*:(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        cpu += flags.group(1) if flags else ""
    except OSError:
        pass
    return "|".join([torch.__version__, platform.machine(), cpu, digest.hexdigest()])


def package_key(identity: str, example: Sequence[Tensor]) -> str:
    """The package's name for a program (`identity`: its name and static arguments) on these inputs."""
    inputs = [f"{tuple(x.shape)}{tuple(x.stride())}{x.dtype}{x.device}" for x in example]
    text = "|".join([identity, *inputs, _machine_and_source()])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _load(path: Path, device: torch.device) -> Program:
    """The package's runner, loaded by its C++ loader (what `torch._inductor.aoti_load_package` wraps, after
    importing Inductor)."""
    index = -1 if device.index is None else device.index
    loader = torch._C._aoti.AOTIModelPackageLoader(str(path), "model", True, 1, index)
    return loader.run


def _compile(module: torch.nn.Module, example: Sequence[Tensor], path: Path) -> None:
    """Export and compile `module` into a package at `path` (written beside it first, then moved there at once)."""
    from torch._inductor import aoti_compile_and_package  # over a second to import: only when compiling

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.pt2")
    try:
        with warnings.catch_warnings():  # torch's own deprecations inside export, nothing a user can act on
            warnings.simplefilter("ignore", FutureWarning)
            exported = torch.export.export(module, tuple(example), strict=False)
            aoti_compile_and_package(exported, package_path=str(partial))
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def load_or_compile(module: torch.nn.Module, example: Sequence[Tensor], identity: str) -> Program:
    """`module` compiled for inputs like `example`: loaded from this machine's cache, or compiled (seconds) and kept
    there. A package that does not load (damaged, cut short) is compiled again; where the cache cannot be written,
    the program is compiled for this process only."""
    path = cache_folder() / f"{package_key(identity, example)}.pt2"
    device = example[0].device
    if path.exists():
        try:
            return _load(path, device)
        except RuntimeError:
            path.unlink(missing_ok=True)
    try:
        _compile(module, example, path)
    except OSError:
        with tempfile.TemporaryDirectory(prefix="mamlviz_aot_") as folder:
            _compile(module, example, Path(folder) / path.name)
            return _load(Path(folder) / path.name, device)  # the loader keeps its own copy of what it runs
    return _load(path, device)
