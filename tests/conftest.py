"""Test-wide setup: offscreen Qt (unless a display platform is chosen) and one torch thread."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch

torch.set_num_threads(1)
