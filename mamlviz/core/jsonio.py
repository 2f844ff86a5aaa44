"""JSON of untrusted files (checkpoint metadata, its safetensors header, session documents), parsed with
bounded nesting, so a hostile file gives one sentence instead of a `RecursionError`."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64
"""Deeper nesting than this can only come from a damaged or hostile file (mamlviz writes at most ~6 levels)."""


class JSONDepthError(ValueError):
    """JSON nested more deeply than `MAX_DEPTH`."""


def loads_bounded(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads`, refusing nesting deeper than `max_depth` with `JSONDepthError` (a `ValueError`)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JSONDepthError(f"its JSON is nested too deeply (more than {max_depth} levels)") from None
    if depth(value) > max_depth:
        raise JSONDepthError(f"its JSON is nested too deeply (more than {max_depth} levels)")
    return value


def depth(value: Any) -> int:
    """Nesting depth of parsed JSON (a scalar: 0, `[]`: 1), computed without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            level += 1
            deepest = max(deepest, level)
            stack.extend((child, level) for child in (item.values() if isinstance(item, dict) else item))
    return deepest
