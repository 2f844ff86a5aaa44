"""Inductor's CPU vector-instruction probe, paid once per machine instead of once per process.

Before its first CPU compile in a process, Inductor checks each vector instruction set the CPU advertises (AVX2,
AVX-512, ...) by loading a small library built with it in a child Python: 2.7 s here, on every `mamlviz train`
and app run that compiles, cached compile or not (the profile is in the #14 note). Where that probe accepted every
set the CPU advertises, it will again for the same torch, Python, compiler and CPU: this module records that once
(`remember`, after a compile) and then lets Inductor trust the CPU's list (`inductor_settings`), which gives the same
choice. Where any set failed its probe, nothing is recorded and Inductor probes as before. Any surprise (another
torch's internals, an unwritable cache) leaves Inductor's own behaviour.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

MEMO = "mamlviz_vector_isa.json"
"""The record, in Inductor's cache folder (beside the probe's own libraries)."""


def _machine_key() -> str:
    """What the probe's outcome depends on: torch, this Python, the C++ compiler and the CPU's advertised sets."""
    import torch
    from torch._inductor import cpp_builder, cpu_vec_isa

    flags = sorted(cpu_vec_isa.x86_isa_checker()) if platform.machine() in ("x86_64", "AMD64") else []
    return "|".join([torch.__version__, sys.executable, cpp_builder.get_cpp_compiler(), platform.machine(), *flags])


def _memo_path() -> Path:
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    return Path(cache_dir()) / MEMO


def inductor_settings() -> dict[str, Any]:
    """Inductor config to patch while compiling: {'cpp.vec_isa_ok': True} where an earlier probe on this machine
    accepted every advertised set, else {} (Inductor probes)."""
    try:
        memo = json.loads(_memo_path().read_text())
        return {"cpp.vec_isa_ok": True} if memo.get("key") == _machine_key() and memo.get("all_accepted") else {}
    except (OSError, ValueError, AttributeError, ImportError):
        return {}


def remember() -> None:
    """After a compile that probed: record whether the probe accepted every set the CPU advertises."""
    try:
        from torch._inductor import config, cpu_vec_isa

        if config.cpp.vec_isa_ok is not None:  # nothing was probed
            return
        probed = [str(isa) for isa in cpu_vec_isa.valid_vec_isa_list()]
        with config.patch({"cpp.vec_isa_ok": True}):
            advertised = [str(isa) for isa in cpu_vec_isa.valid_vec_isa_list.__wrapped__()]
        path = _memo_path()
        record = {"key": _machine_key(), "all_accepted": probed == advertised, "sets": probed}
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(record))
        temporary.replace(path)
    except (OSError, AttributeError, ImportError):
        return
