"""Test-wide setup: offscreen Qt (unless a display platform is chosen), one torch thread, and a private home.

`private_home` points HOME, XDG_CONFIG_HOME, XDG_CACHE_HOME and MAMLVIZ_CACHE into a temporary folder
for the whole run (autouse, session scope: before any QApplication or QSettings exists), so no test
writes the user's real ~/.config/mamlviz or ~/.cache/mamlviz. Child processes inherit it.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

if not os.environ.get("QT_QPA_PLATFORM"):  # unset or empty: an empty one makes Qt pick xcb and abort with no display
    os.environ["QT_QPA_PLATFORM"] = "offscreen"

import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temporary home folder with its own config and cache folders, for the whole test run."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        patch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        patch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
        patch.setenv("MAMLVIZ_CACHE", str(home / ".cache" / "mamlviz"))
        yield home
