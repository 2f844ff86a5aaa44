"""Omniglot loader: real archives (a few characters), synthetic archives, cache, and bad input."""

from __future__ import annotations

import shutil
import urllib.request
import zipfile

import numpy as np
import pytest

from mamlviz.core import omniglot
from mamlviz.core.errors import DataError
from mamlviz.core.omniglot import box_matrix, decode_png, load_split
from tests.core.omniglot_fixtures import SHARED, make_archive, make_omniglot, png_bytes

needs_shared = pytest.mark.skipif(not (SHARED / "images_background.zip").is_file(), reason="no shared Omniglot copy")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))


@needs_shared
def test_real_archive_subset_is_28x28_ink_on_blank():
    split = load_split("background", SHARED, alphabets=["Latin"], characters_per_alphabet=2)
    assert split.characters == ("Latin/character01", "Latin/character02")
    assert split.images.shape == (2, 20, 28, 28)
    assert split.images.dtype == np.uint8
    corners = split.images[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert corners.max() == 0, "background must be 0 (ink is 255)"
    ink = (split.images > 127).mean((2, 3))
    assert (ink > 0.02).all()
    assert (ink < 0.5).all()


@needs_shared
def test_extracted_folder_gives_the_same_images_as_the_zip(tmp_path):
    with zipfile.ZipFile(SHARED / "images_evaluation.zip") as archive:
        members = [m for m in archive.namelist() if m.startswith("images_evaluation/Angelic/character01/")]
        archive.extractall(tmp_path, members)
    from_folder = load_split("evaluation", tmp_path)
    from_zip = load_split("evaluation", SHARED, alphabets=["Angelic"], characters_per_alphabet=1)
    assert from_folder.characters == from_zip.characters
    np.testing.assert_array_equal(from_folder.images, from_zip.images)


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
