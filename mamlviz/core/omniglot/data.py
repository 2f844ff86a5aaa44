"""Omniglot (Lake et al. 2015) read straight from its standard archives, as 28×28 ink images.

`images_background.zip` (30 alphabets, meta-training) and `images_evaluation.zip` (20 alphabets,
meta-test), or their extracted folders, laid out `<split>/<Alphabet>/characterNN/NNNN_DD.png`.
The 105×105 one-bit PNGs are decoded with Pillow (size checked before decoding), box-resampled to
28×28 and inverted so ink is 255 on a 0 background. A decoded split is cached as `.npz` in the
user cache folder, keyed by the archive's SHA-256, so the second load takes well under a second.
`meta_split` / `load_meta_test` give the meta-train and meta-test characters of a config's `split`: the two
archives as they are ('alphabets'), or the paper's random split of their 1,623 characters ('paper'); `hold_out`
sets some meta-train characters aside for validation;
`unseen_characters` gives the characters none of several splits meta-trained on.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import struct
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from mamlviz.core.config import check_split
from mamlviz.core.errors import ConfigError, DataError

SPLITS = {"background": "images_background", "evaluation": "images_evaluation"}
"""The two archives; split 'alphabets' meta-trains on the background ones and meta-tests on the evaluation ones."""
PAPER_TRAIN_FRACTION = 1200 / 1623
"""Split 'paper' (Finn et al. 2017, after Santoro et al. 2016): 1,200 of the 1,623 characters meta-train."""
PAPER_SPLIT_SEED = 0
"""Seed of the paper split's shuffle, fixed (not the training seed) so training and `mamlviz eval` agree."""
HOLD_OUT_SEED = 1
"""Seed of `hold_out`'s choice, fixed so a file's `val_characters` names the same characters on every machine."""
SOURCE_SIZE = 105
IMAGE_SIZE = 28
OFFICIAL_URL = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/{name}.zip"
OFFICIAL_MD5 = {
    "images_background": "68d2efa1b9178cc56df9314c21c6e718",
    "images_evaluation": "6b91aef0f799c5bb55b94e3f2daec811",
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_ENTRY_BYTES = 1 << 20
"""A 105×105 drawing needs a few kB; an archive member larger than this is refused unread."""
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OmniglotSplit:
    """The drawings of one split: `images` (characters, drawers, 28, 28) uint8, ink = 255."""

    images: np.ndarray
    characters: tuple[str, ...]
    """'Alphabet/characterNN' of each row of `images`."""

    def rows(self, indices: Sequence[int] | np.ndarray) -> OmniglotSplit:
        """The characters at `indices`, in that order."""
        return OmniglotSplit(self.images[indices], tuple(self.characters[i] for i in indices))


def cache_dir() -> Path:
    """`$MAMLVIZ_CACHE`, else `$XDG_CACHE_HOME/mamlviz`, else `~/.cache/mamlviz`."""
    if os.environ.get("MAMLVIZ_CACHE"):
        return Path(os.environ["MAMLVIZ_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mamlviz"


def load_split(
    split: str,
    data: str | Path | None = None,
    *,
    alphabets: Sequence[str] | None = None,
    characters_per_alphabet: int | None = None,
    use_cache: bool = True,
) -> OmniglotSplit:
    """Load a split from the folder `data` (holding the archive or its extracted folder).

    Without `data`, the official archive is downloaded to the cache folder and its md5 checked.
    `alphabets` / `characters_per_alphabet` load a subset (never cached), e.g. for tests.
    """
    if split not in SPLITS:
        raise DataError(f"unknown Omniglot split {split!r}; choose one of {', '.join(SPLITS)}.")
    name = SPLITS[split]
    source = _locate(name, Path(data).expanduser() if data else None)
    subset = alphabets is not None or characters_per_alphabet is not None
    cache_file = None
    if use_cache and not subset:
        cache_file = cache_dir() / f"omniglot_{name}_{_fingerprint(source)[:16]}_{IMAGE_SIZE}.npz"
        cached = _read_cache(cache_file)
        if cached is not None:
            return cached
    loaded = _decode_source(source, name, alphabets, characters_per_alphabet)
    if cache_file is not None:
        _write_cache(cache_file, loaded)
    return loaded


def meta_split(split: str, background: OmniglotSplit, evaluation: OmniglotSplit) -> tuple[OmniglotSplit, OmniglotSplit]:
    """(meta-train, meta-test) characters of a `ClassificationConfig.split`, from both loaded archives.

    'alphabets': the archives as they are. 'paper': the background then the evaluation characters (each in the
    loader's sorted 'Alphabet/characterNN' order, named '<archive>/Alphabet/characterNN'), shuffled by
    `numpy.random.RandomState(PAPER_SPLIT_SEED).permutation` (the legacy stream, which NumPy keeps frozen); the
    first round(n · 1200 / 1623) meta-train (1,200 of the official 1,623), the rest (423) meta-test.
    """
    if split == "alphabets":
        return background, evaluation
    check_split(split)
    if background.images.shape[1:] != evaluation.images.shape[1:]:
        raise DataError(
            f"the archives hold {background.images.shape[1]} and {evaluation.images.shape[1]} drawings per "
            "character; the paper split pools them and needs the same number."
        )
    names = tuple(
        f"{archive}/{c}"
        for archive, part in (("background", background), ("evaluation", evaluation))
        for c in part.characters
    )
    pooled = OmniglotSplit(np.concatenate([background.images, evaluation.images]), names)
    order = np.random.RandomState(PAPER_SPLIT_SEED).permutation(len(names))  # a stream NumPy keeps frozen
    train, test = (pooled.rows(part) for part in np.split(order, [round(len(names) * PAPER_TRAIN_FRACTION)]))
    return train, test


def hold_out(split: OmniglotSplit, n: int) -> tuple[OmniglotSplit, OmniglotSplit]:
    """(kept, held out): `n` characters of `split` chosen by `numpy.random.RandomState(HOLD_OUT_SEED)`, set aside
    (as validation classes) from the rest; both parts keep `split`'s order."""
    if not 0 < n < len(split.characters):
        raise ConfigError(
            f"cannot hold out {n} of the {len(split.characters)} meta-training characters for validation; "
            f"choose 1 to {len(split.characters) - 1}."
        )
    held = np.zeros(len(split.characters), bool)
    held[np.random.RandomState(HOLD_OUT_SEED).permutation(len(held))[:n]] = True
    return split.rows(np.flatnonzero(~held)), split.rows(np.flatnonzero(held))


def load_meta_test(split: str, data: str | Path | None = None) -> OmniglotSplit:
    """The meta-test characters of `split` (see `meta_split`); 'paper' loads both archives."""
    if split == "alphabets":
        return load_split("evaluation", data)
    return meta_split(split, load_split("background", data), load_split("evaluation", data))[1]


def unseen_characters(splits: Sequence[str], data: str | Path | None = None) -> OmniglotSplit:
    """The characters that none of `splits` meta-trained on: the intersection of their meta-test characters.

    Each character is named '<archive>/Alphabet/characterNN', as `meta_split`'s 'paper' split names it, so the
    name is the same whichever split holds it. One split: its meta-test characters ('alphabets': the evaluation
    archive, loaded alone; 'paper': its 423); 'paper' with 'alphabets': the evaluation characters among the
    paper's meta-test ones (about 170 of the official 1,623). Rows follow the first split's meta-test order.
    """
    distinct = list(dict.fromkeys(splits))
    if not distinct:
        raise ValueError("unseen_characters needs at least one split.")
    for split in distinct:
        check_split(split)
    evaluation = load_split("evaluation", data)
    background = load_split("background", data) if distinct != ["alphabets"] else None
    tests = []
    for split in distinct:
        if split == "alphabets":
            tests.append(OmniglotSplit(evaluation.images, tuple(f"evaluation/{c}" for c in evaluation.characters)))
        else:
            tests.append(meta_split(split, background, evaluation)[1])
    first, *others = tests
    common = set(first.characters).intersection(*(other.characters for other in others))
    rows = [i for i, name in enumerate(first.characters) if name in common]
    return first.rows(rows)


def _locate(name: str, data: Path | None) -> Path:
    if data is None:
        return download(name)
    if not data.exists():
        raise DataError(f"Omniglot data folder {data} does not exist.")
    if data.is_file():
        if data.name == f"{name}.zip":
            return data
        raise DataError(f"{data} is a file; point the data path at the folder that holds {name}.zip.")
    for candidate in (data / f"{name}.zip", data / name):
        if candidate.exists():
            return candidate
    raise DataError(f"{data} holds neither {name}.zip nor a {name}/ folder; point the data path at your Omniglot copy.")


def download(name: str) -> Path:
    """Fetch the official archive into the cache folder (once) and verify its md5."""
    target = cache_dir() / f"{name}.zip"
    if target.is_file() and _digest(target, "md5") == OFFICIAL_MD5[name]:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".zip.part")
    try:
        urllib.request.urlretrieve(OFFICIAL_URL.format(name=name), partial)
    except OSError as exc:
        raise DataError(
            f"could not download {name}.zip ({exc}); download it yourself and pass its folder as the data path."
        ) from None
    if _digest(partial, "md5") != OFFICIAL_MD5[name]:
        partial.unlink(missing_ok=True)
        raise DataError(f"the downloaded {name}.zip does not match its official checksum; try again later.")
    partial.replace(target)
    return target


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fingerprint(source: Path) -> str:
    if source.is_file():
        return _digest(source, "sha256")
    h = hashlib.sha256()
    for png in sorted(source.rglob("*.png")):
        stat = png.stat()
        h.update(f"{png.relative_to(source)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()


def _read_cache(path: Path) -> OmniglotSplit | None:
    """The cached split, or None (logging why) if the file is missing, damaged or not what we wrote."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if sorted(data.files) != ["characters", "images"]:
                raise ValueError(f"unexpected arrays {sorted(data.files)}")
            images, characters = data["images"], data["characters"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        _log.warning("Omniglot cache %s is damaged (%s); rebuilding it.", path, exc)
        return None
    valid = (
        images.dtype == np.uint8
        and images.ndim == 4
        and images.shape[2:] == (IMAGE_SIZE, IMAGE_SIZE)
        and characters.dtype.kind == "U"
        and characters.shape == images.shape[:1]
    )
    if not valid:
        _log.warning("Omniglot cache %s does not hold a decoded split; rebuilding it.", path)
        return None
    return OmniglotSplit(images, tuple(str(c) for c in characters))


def _write_cache(path: Path, split: OmniglotSplit) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
        np.savez(tmp, images=split.images, characters=np.array(split.characters))
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache only costs speed


def _decode_source(source: Path, name: str, alphabets: Sequence[str] | None, per_alphabet: int | None) -> OmniglotSplit:
    groups: dict[str, list[tuple[str, bytes]]] = {}
    try:
        for relative, read in _png_files(source, name):
            parts = relative.split("/")
            if len(parts) != 3 or (alphabets is not None and parts[0] not in alphabets):
                continue
            groups.setdefault(f"{parts[0]}/{parts[1]}", []).append((relative, read()))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise DataError(f"{source} is damaged and cannot be read ({exc}).") from None
    if per_alphabet is not None:
        by_alphabet: dict[str, list[str]] = {}
        for character in sorted(groups):
            by_alphabet.setdefault(character.split("/")[0], []).append(character)
        groups = {c: groups[c] for chars in by_alphabet.values() for c in chars[:per_alphabet]}
    if not groups:
        raise DataError(f"{source} contains no Omniglot character images.")
    counts = {len(v) for v in groups.values()}
    if len(counts) != 1:
        raise DataError(f"{source}: characters have different numbers of drawings ({sorted(counts)}).")
    characters = tuple(sorted(groups))
    raw = np.stack(
        [decode_png(data, f"{name}/{file} in {source}") for c in characters for file, data in sorted(groups[c])]
    )
    images = resize_ink(raw, IMAGE_SIZE)
    return OmniglotSplit(images.reshape(len(characters), counts.pop(), IMAGE_SIZE, IMAGE_SIZE), characters)


def _png_files(source: Path, name: str) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(path below the split folder, reader) of every PNG, from a zip or a folder."""
    if source.is_file():
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                if info.filename.endswith(".png") and info.filename.startswith(f"{name}/"):
                    yield info.filename[len(name) + 1 :], (lambda i=info: _read_entry(archive, i, source))
    else:
        for png in source.rglob("*.png"):
            yield png.relative_to(source).as_posix(), (lambda f=png: _read_file(f))


def _read_file(path: Path) -> bytes:
    """One extracted drawing, refused if it is larger than any drawing needs."""
    with path.open("rb") as fh:
        return _read_bounded(fh, str(path))


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: Path) -> bytes:
    """One archive member, refused (without inflating it all) if it is larger than any drawing needs."""
    what = f"{info.filename} in {source}"
    if info.file_size > MAX_ENTRY_BYTES:
        raise _too_big(what)
    with archive.open(info) as fh:
        return _read_bounded(fh, what)


def _read_bounded(fh: BinaryIO, what: str) -> bytes:
    """At most MAX_ENTRY_BYTES from fh; more than that is refused."""
    data = fh.read(MAX_ENTRY_BYTES + 1)
    if len(data) > MAX_ENTRY_BYTES:
        raise _too_big(what)
    return data


def _too_big(what: str) -> DataError:
    return DataError(f"{what} is larger than {MAX_ENTRY_BYTES} bytes, far more than a drawing needs.")


def decode_png(data: bytes, source: str = "image") -> np.ndarray:
    """A 105×105 1- or 8-bit grayscale PNG as a uint8 array (1-bit: 0/1, 8-bit: 0..255), decoded by Pillow.

    The size is checked from the header before any pixel data is inflated.
    """
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            if image.size != (SOURCE_SIZE, SOURCE_SIZE):
                width, height = image.size
                raise DataError(
                    f"{source} is {width}×{height} pixels; Omniglot images are {SOURCE_SIZE}×{SOURCE_SIZE}."
                )
            if image.mode not in ("1", "L"):
                raise DataError(f"{source} is not a 1- or 8-bit grayscale PNG; Omniglot images are one-bit.")
            image.load()
            pixels = np.asarray(image)
    except UnidentifiedImageError:  # Pillow's answer both to a foreign file and to a PNG with a broken header
        if data.startswith(_PNG_SIGNATURE):
            raise DataError(f"{source} is a damaged PNG image (broken header chunk).") from None
        raise DataError(f"{source} is not a PNG image.") from None
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
        raise DataError(f"{source} is a damaged PNG image ({exc}).") from None
    return pixels.astype(np.uint8)


def box_matrix(source: int, target: int) -> np.ndarray:
    """(target, source) area-averaging resampling matrix (PIL's BOX filter)."""
    scale = source / target
    edges = np.arange(target + 1) * scale
    pixels = np.arange(source)
    overlap = np.minimum(edges[1:, None], pixels + 1) - np.maximum(edges[:-1, None], pixels)
    return np.clip(overlap, 0, None) / scale


def downsample(ink: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Ink images (..., H, W) in [0, 1] → (..., size, size) float32 by area averaging."""
    rows = box_matrix(ink.shape[-2], size).astype(np.float32)
    cols = box_matrix(ink.shape[-1], size).astype(np.float32)
    return np.matmul(np.matmul(rows, ink.astype(np.float32)), cols.T)


def resize_ink(raw: np.ndarray, size: int) -> np.ndarray:
    """One-bit drawings (N, H, W) with 1 = paper → (N, size, size) uint8 ink (255 = stroke)."""
    small = downsample(1.0 - raw.astype(np.float32), size)
    return np.clip(np.rint(small * 255), 0, 255).astype(np.uint8)
