"""Omniglot loader on fixture-made archives: subsets, folders, cache, and damaged or hostile input."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import urllib.request
import zipfile

import numpy as np
import pytest
from PIL import ImageFile

from mamlviz.core.errors import DataError
from mamlviz.core.omniglot import data as omniglot
from mamlviz.core.omniglot.data import MAX_ENTRY_BYTES, box_matrix, decode_png, load_split
from tests.core.omniglot.fixtures import (
    archive_with,
    bad_crc_png,
    bomb_png,
    claim_size,
    drawing,
    make_archive,
    make_omniglot,
    overfull_png,
    pillow_png,
    png_bytes,
    short_ihdr_png,
)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))


def test_archive_subset_is_28x28_ink_on_blank(tmp_path):
    make_archive(tmp_path, "images_background", alphabets=2, characters=3, drawers=20)
    split = load_split("background", tmp_path, alphabets=["Alpha1"], characters_per_alphabet=2)
    assert split.characters == ("Alpha1/character01", "Alpha1/character02")
    assert split.images.shape == (2, 20, 28, 28)
    assert split.images.dtype == np.uint8
    corners = split.images[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert corners.max() == 0, "background must be 0 (ink is 255)"
    ink = (split.images > 127).mean((2, 3))
    assert (ink > 0).all()
    assert (ink < 0.5).all()


def test_extracted_folder_gives_the_same_images_as_the_zip(tmp_path):
    (tmp_path / "zip").mkdir()
    archive_path = make_archive(tmp_path / "zip", "images_evaluation", alphabets=2, characters=2, drawers=3)
    with zipfile.ZipFile(archive_path) as archive:
        members = [m for m in archive.namelist() if m.startswith("images_evaluation/Alpha0/character01/")]
        archive.extractall(tmp_path / "folder", members)
    from_folder = load_split("evaluation", tmp_path / "folder")
    from_zip = load_split("evaluation", tmp_path / "zip", alphabets=["Alpha0"], characters_per_alphabet=1)
    assert from_folder.characters == from_zip.characters
    np.testing.assert_array_equal(from_folder.images, from_zip.images)


def test_pillow_written_drawings_decode_exactly():
    pixels = drawing(np.random.default_rng(0))
    np.testing.assert_array_equal(decode_png(pillow_png(pixels)), pixels)


def test_decode_png_one_and_eight_bit():
    pixels = (np.arange(105 * 105).reshape(105, 105) % 3 == 0).astype(np.uint8)
    np.testing.assert_array_equal(decode_png(png_bytes(pixels, 1)), pixels)
    np.testing.assert_array_equal(decode_png(png_bytes(pixels * 200, 8)), pixels * 200)


@pytest.mark.parametrize("depth", [1, 8])
def test_decode_png_undoes_every_scanline_filter(depth):
    rng = np.random.default_rng(depth)
    pixels = rng.integers(0, 2 if depth == 1 else 256, (105, 105))
    data = png_bytes(pixels, depth, filters=(0, 1, 2, 3, 4))
    np.testing.assert_array_equal(decode_png(data), pixels)


def test_box_resampling_keeps_the_mean():
    matrix = box_matrix(105, 28)
    np.testing.assert_allclose(matrix.sum(1), 1.0)
    np.testing.assert_allclose(matrix.sum(0), 28 / 105)


def test_second_load_comes_from_the_cache(tmp_path, monkeypatch):
    data = make_omniglot(tmp_path / "data", characters=2, drawers=3)
    first = load_split("background", data)
    assert list((tmp_path / "cache").glob("omniglot_images_background_*.npz"))

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(omniglot, "_decode_source", no_decoding)
    second = load_split("background", data)
    np.testing.assert_array_equal(first.images, second.images)
    assert first.characters == second.characters
    assert first.images.shape == (4, 3, 28, 28)


def test_wrong_data_path_is_one_sentence(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_split("background", tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"neither images_background\.zip nor"):
        load_split("background", tmp_path)


def test_damaged_archive_is_one_sentence(tmp_path):
    good = make_archive(tmp_path, "images_background", characters=1, drawers=2)
    (tmp_path / "bad").mkdir()
    shutil.copy(good, tmp_path / "bad" / good.name)
    data = (tmp_path / "bad" / good.name).read_bytes()
    (tmp_path / "bad" / good.name).write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="damaged"):
        load_split("background", tmp_path / "bad")


def test_corrupt_png_inside_archive_is_one_sentence(tmp_path):
    with zipfile.ZipFile(tmp_path / "images_background.zip", "w") as archive:
        archive.writestr("images_background/A/character01/x_01.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DataError, match="damaged PNG"):
        load_split("background", tmp_path)


def test_images_of_the_wrong_size_are_one_sentence(tmp_path):
    make_archive(tmp_path, "images_background", characters=1, drawers=2, size=64)
    with pytest.raises(DataError, match="64×64 pixels; Omniglot images are 105×105"):
        load_split("background", tmp_path)


def test_without_a_path_it_downloads_and_reports_failure_in_one_sentence(tmp_path, monkeypatch):
    def offline(url, filename):
        raise OSError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlretrieve", offline)
    with pytest.raises(DataError, match=r"could not download images_background\.zip"):
        load_split("background")


def test_download_with_a_wrong_checksum_is_refused(tmp_path, monkeypatch):
    def fake(url, filename):
        assert url.endswith("/images_evaluation.zip")
        make_archive(tmp_path, "images_evaluation", characters=1, drawers=2).replace(filename)

    monkeypatch.setattr(urllib.request, "urlretrieve", fake)
    with pytest.raises(DataError, match="does not match its official checksum"):
        load_split("evaluation")
    assert not list((tmp_path / "cache").glob("*.zip*"))


@pytest.mark.parametrize(
    ("png", "match"),
    [(short_ihdr_png(), "damaged PNG"), (bad_crc_png(), "damaged PNG"), (b"not a png at all", "not a PNG")],
    ids=["short-IHDR", "bad-CRC", "not-PNG"],
)
def test_broken_png_is_one_sentence_naming_the_entry(tmp_path, png, match):
    archive_with(tmp_path, {"A/character01/x_01.png": png})
    with pytest.raises(DataError, match=match) as caught:
        load_split("background", tmp_path)
    assert "images_background/A/character01/x_01.png in " in str(caught.value)


def test_decompression_bomb_is_refused_before_decoding(tmp_path, monkeypatch):
    bomb = bomb_png(20000)
    assert len(bomb) < 200_000
    archive_with(tmp_path, {"A/character01/x_01.png": bomb})

    def no_decoding(self):
        raise AssertionError("pixel data was inflated")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(DataError, match=r"x_01\.png in .*(20000×20000 pixels|damaged PNG)"):
        load_split("background", tmp_path)


def test_oversized_declared_png_is_refused_by_its_header(tmp_path, monkeypatch):
    archive_with(tmp_path, {"A/character01/x_01.png": bomb_png(2000)})
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("pixel data was inflated"))
    with pytest.raises(DataError, match="2000×2000 pixels; Omniglot images are 105×105"):
        load_split("background", tmp_path)


def test_zip_entry_claiming_two_gigabytes_is_refused_unread(tmp_path):
    path = archive_with(tmp_path, {"A/character01/x_01.png": png_bytes(np.ones((105, 105)))})
    claim_size(path, 2**31)
    with pytest.raises(DataError, match=r"x_01\.png in .* is larger than 1048576 bytes"):
        load_split("background", tmp_path)


def test_zip_entry_larger_than_any_drawing_is_refused(tmp_path):
    archive_with(tmp_path, {"A/character01/x_01.png": bytes(2 << 20)})
    with pytest.raises(DataError, match="is larger than 1048576 bytes"):
        load_split("background", tmp_path)


def test_extracted_file_larger_than_any_drawing_is_refused(tmp_path):
    folder = tmp_path / "images_background" / "A" / "character01"
    folder.mkdir(parents=True)
    (folder / "x_01.png").write_bytes(bytes(2 << 20))
    with pytest.raises(DataError, match=r"x_01\.png is larger than 1048576 bytes"):
        load_split("background", tmp_path)


@pytest.mark.parametrize(
    "poison",
    [
        {"images": np.array([object()], dtype=object), "characters": np.array(["A/c"])},  # needs pickle
        {"images": np.zeros((2, 3, 5, 5), np.uint8), "characters": np.array(["A/c", "A/d"])},  # wrong size
        {"images": np.zeros((2, 3, 28, 28), np.float64), "characters": np.array(["A/c", "A/d"])},  # wrong dtype
        {"images": np.zeros((2, 3, 28, 28), np.uint8), "characters": np.array(["A/c"])},  # wrong count
        {"other": np.zeros(3)},
        b"PK\x03\x04 not an npz",
    ],
    ids=["pickle", "shape", "dtype", "count", "keys", "garbage"],
)
def test_poisoned_cache_is_rebuilt(tmp_path, caplog, poison):
    data = make_omniglot(tmp_path / "data", characters=2, drawers=3)
    expected = load_split("background", data)
    (cache_file,) = (tmp_path / "cache").glob("omniglot_images_background_*.npz")
    if isinstance(poison, bytes):
        cache_file.write_bytes(poison)
    else:
        with cache_file.open("wb") as fh:
            np.savez(fh, **poison)
    with caplog.at_level(logging.WARNING, logger="mamlviz.core.omniglot.data"):
        rebuilt = load_split("background", data)
    assert "rebuilding it" in caplog.text
    np.testing.assert_array_equal(rebuilt.images, expected.images)
    assert rebuilt.characters == expected.characters
    cached = omniglot._read_cache(cache_file)
    assert cached is not None
    np.testing.assert_array_equal(cached.images, expected.images)


GUARDED_DECODE = """
import resource, sys
from mamlviz.core.omniglot.data import decode_png
data = open(sys.argv[1], "rb").read()
size = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize:")).split()[1]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + (128 << 20), resource.RLIM_INFINITY))
print(decode_png(data, "bomb").shape)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and RLIMIT_AS")
def test_overfull_pixel_stream_is_inflated_only_as_far_as_the_image_needs(tmp_path):
    png = overfull_png(400)
    assert len(png) < MAX_ENTRY_BYTES
    (tmp_path / "bomb.png").write_bytes(png)
    run = subprocess.run(
        [sys.executable, "-c", GUARDED_DECODE, str(tmp_path / "bomb.png")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "(105, 105)"
