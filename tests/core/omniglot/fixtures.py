"""Tiny synthetic Omniglot archives (real PNG files, standard layout) for fast loader, CLI and GUI tests."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mamlviz.core.checkpoint import Initialization, save_initialization
from mamlviz.core.config import ClassificationConfig, TrainConfig
from mamlviz.core.omniglot.convnet import init_conv_params


def paeth(left: int, up: int, upper_left: int) -> int:
    p = left + up - upper_left
    pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
    return left if pa <= pb and pa <= pc else up if pb <= pc else upper_left


def filter_row(kind: int, row: np.ndarray, previous: np.ndarray) -> bytes:
    """PNG-filter one scanline of bytes (one byte per pixel step) with filter `kind` 0..4."""
    out = []
    for c, value in enumerate(row.astype(int)):
        left, up = (int(row[c - 1]) if c else 0), int(previous[c])
        upper_left = int(previous[c - 1]) if c else 0
        predictor = [0, left, up, (left + up) // 2, paeth(left, up, upper_left)][kind]
        out.append((value - predictor) % 256)
    return bytes([kind, *out])


def chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    """One PNG chunk: length, type, data and its CRC (the right one unless `crc` is given)."""
    crc = zlib.crc32(kind + data) if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def pillow_png(pixels: np.ndarray) -> bytes:
    """A (H, W) 0/1 array written by Pillow as a one-bit PNG, like the official drawings."""
    out = io.BytesIO()
    Image.fromarray(pixels.astype(bool)).save(out, format="PNG")
    return out.getvalue()


def short_ihdr_png() -> bytes:
    """A PNG whose IHDR chunk holds 5 bytes instead of 13."""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", b"\x00\x00\x00i\x00") + chunk(b"IEND", b"")


def bad_crc_png() -> bytes:
    """A valid 105×105 PNG whose IHDR checksum is wrong."""
    data = bytearray(png_bytes(np.ones((105, 105), np.uint8)))
    data[29:33] = bytes(b ^ 0xFF for b in data[29:33])  # the IHDR CRC follows signature, length, type, 13 bytes
    return bytes(data)


def bomb_png(size: int = 20000) -> bytes:
    """A one-bit `size`×`size` all-paper PNG: small on disk, `size`² pixels once decoded."""
    row = b"\x00" + b"\xff" * ((size + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(size)) + compressor.flush()
    header = struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def archive_with(folder: Path, entries: dict[str, bytes], name: str = "images_background") -> Path:
    """`folder/name.zip` holding `entries` (paths below the split folder), deflated."""
    path = folder / f"{name}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data in entries.items():
            archive.writestr(f"{name}/{entry}", data)
    return path


def claim_size(path: Path, size: int) -> None:
    """Rewrite the uncompressed size every central-directory entry of the zip at `path` declares."""
    data = bytearray(path.read_bytes())
    start = data.find(b"PK\x01\x02")
    while start >= 0:
        struct.pack_into("<I", data, start + 24, size)
        start = data.find(b"PK\x01\x02", start + 4)
    path.write_bytes(bytes(data))


def png_bytes(pixels: np.ndarray, depth: int = 1, filters: tuple[int, ...] = (0,)) -> bytes:
    """Encode a (H, W) array (0/1 for depth 1, 0..255 for depth 8) as a grayscale PNG; row r uses
    filter type filters[r % len(filters)]."""
    height, width = pixels.shape
    rows = np.packbits(pixels.astype(np.uint8), axis=1) if depth == 1 else pixels.astype(np.uint8)
    if filters == (0,):
        raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    else:
        previous = [np.zeros_like(rows[0]), *rows[:-1]]
        raw = b"".join(filter_row(filters[r % len(filters)], rows[r], previous[r]) for r in range(height))

    header = struct.pack(">IIBBBBB", width, height, depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def drawing(rng: np.random.Generator, size: int = 105) -> np.ndarray:
    """A one-bit 'character': a few thick random strokes, 1 = paper, 0 = ink."""
    paper = np.ones((size, size), np.uint8)
    for _ in range(3):
        r, c = rng.integers(10, size - 30, 2)
        length, vertical = rng.integers(15, 30), rng.random() < 0.5
        if vertical:
            paper[r : r + length, c : c + 5] = 0
        else:
            paper[r : r + 5, c : c + length] = 0
    return paper


def make_archive(
    folder: Path,
    name: str,
    alphabets: int = 2,
    characters: int = 3,
    drawers: int = 20,
    size: int = 105,
    seed: int | None = None,
) -> Path:
    """Write `folder/name.zip` laid out like the official archive; returns its path. The drawings are random with
    `seed`, by default len(name): the two official names are as long, so both archives then hold the same."""
    rng = np.random.default_rng(len(name) if seed is None else seed)
    path = folder / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for a in range(alphabets):
            for c in range(characters):
                base = drawing(rng, size)
                for d in range(drawers):
                    jitter = np.roll(base, tuple(rng.integers(-3, 4, 2)), axis=(0, 1))
                    archive.writestr(
                        f"{name}/Alpha{a}/character{c + 1:02d}/{a}{c:03d}_{d + 1:02d}.png", png_bytes(jitter)
                    )
    return path


def make_omniglot(folder: Path, distinct: bool = False, **kwargs: int) -> Path:
    """Both split archives in `folder`; returns the folder. They hold the same drawings unless `distinct`."""
    folder.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate(("images_background", "images_evaluation")):
        make_archive(folder, name, **kwargs, seed=seed if distinct else None)
    return folder


def overfull_png(megabytes: int) -> bytes:
    """A 105×105 one-bit PNG whose pixel stream would inflate to `megabytes` MB if read to its end."""
    compressor, block = zlib.compressobj(9), bytes(1 << 20)
    idat = b"".join(compressor.compress(block) for _ in range(megabytes)) + compressor.flush()
    header = struct.pack(">IIBBBBB", 105, 105, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def save_classifier(path: Path, split: str, ways: int = 3, rotations: bool = True) -> Path:
    """A tiny (8-filter) Omniglot MAML file meta-trained on `split` ('alphabets' or 'paper'); returns its path."""
    c = ClassificationConfig(ways=ways, filters=8, split=split, rotations=rotations)
    params = init_conv_params(8, ways, torch.Generator().manual_seed(0))
    save_initialization(path, Initialization(params, TrainConfig(domain="omniglot", classification=c), "maml"))
    return path
