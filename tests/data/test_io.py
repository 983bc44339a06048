"""Reading images: every documented conversion, every refusal with its reason; atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from jointsr.data.io import check_output, read_image, single_channel, write_image
from jointsr.errors import InputError, MissingFileError, UnwritableError

RNG = np.random.default_rng(0)
GREY = (RNG.random((8, 10)) * 255).astype(np.uint8)
RGB = (RNG.random((8, 10, 3)) * 255).astype(np.uint8)


def _save(tmp_path, name, image: Image.Image, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


def test_integer_images_are_divided_by_their_peak(tmp_path):
    assert np.array_equal(read_image(_save(tmp_path, "g.png", Image.fromarray(GREY))), GREY / np.float32(255))
    sixteen = (RNG.random((8, 10)) * 65535).astype(np.uint16)
    assert np.array_equal(read_image(_save(tmp_path, "s.png", Image.fromarray(sixteen))),
                          sixteen.astype(np.float32) / 65535)
    assert read_image(_save(tmp_path, "c.png", Image.fromarray(RGB))).shape == (8, 10, 3)


def test_palette_images_are_read_as_their_colours_not_their_indices(tmp_path):
    palette = Image.fromarray(RGB).convert("P", palette=Image.ADAPTIVE, colors=16)
    path = _save(tmp_path, "p.png", palette)
    colours = np.asarray(palette.convert("RGB"), dtype=np.float32) / 255
    assert np.array_equal(read_image(path), colours)
    assert not np.array_equal(read_image(path)[..., 0], np.asarray(palette) / np.float32(255))  # not indices
    grey = _save(tmp_path, "pg.png", Image.fromarray(GREY).convert("P"))
    assert np.array_equal(read_image(grey), GREY / np.float32(255))  # a grey palette gives a grey image


def test_alpha_is_ignored_and_bilevel_is_zero_or_one(tmp_path):
    assert np.array_equal(read_image(_save(tmp_path, "la.png", Image.fromarray(GREY).convert("LA"))),
                          GREY / np.float32(255))
    assert np.array_equal(read_image(_save(tmp_path, "rgba.png", Image.fromarray(RGB).convert("RGBA"))),
                          RGB / np.float32(255))
    bilevel = read_image(_save(tmp_path, "one.png", Image.fromarray(GREY > 127)))
    assert set(np.unique(bilevel)) <= {0.0, 1.0} and np.array_equal(bilevel, (GREY > 127).astype(np.float32))


def test_floats_in_the_unit_range_are_read_as_they_are(tmp_path):
    values = RNG.random((8, 10)).astype(np.float32)
    np.save(tmp_path / "f.npy", values)
    assert np.array_equal(read_image(tmp_path / "f.npy"), values)
    np.save(tmp_path / "f64.npy", values.astype(np.float64))
    assert read_image(tmp_path / "f64.npy").dtype == np.float32
    assert np.array_equal(read_image(_save(tmp_path, "f.tiff", Image.fromarray(values))), values)
    np.save(tmp_path / "u16.npy", np.full((4, 4), 65535, np.uint16))
    assert read_image(tmp_path / "u16.npy").max() == 1.0


@pytest.mark.parametrize("make,reason", [
    (lambda p: Image.fromarray(RGB).convert("CMYK").save(p / "x.jpg") or p / "x.jpg", "CMYK"),
    (lambda p: Image.fromarray((RNG.random((8, 10)) * 1e6).astype(np.int32)).save(p / "x.tiff") or p / "x.tiff",
     "32-bit integer"),
    (lambda p: np.save(p / "x.npy", np.full((4, 4), 2.5)) or p / "x.npy", "found [2.5, 2.5]"),
    (lambda p: np.save(p / "x.npy", np.full((4, 4), np.nan)) or p / "x.npy", "NaN"),
    (lambda p: np.save(p / "x.npy", np.zeros((4, 4), np.int16)) or p / "x.npy", "int16"),
    (lambda p: np.save(p / "x.npy", np.zeros((3, 8, 10))) or p / "x.npy", "channels last"),
    (lambda p: np.save(p / "x.npy", np.zeros((0, 4))) or p / "x.npy", "no pixels"),
    (lambda p: np.save(p / "x.npy", np.array([{}]), allow_pickle=True) or p / "x.npy", "allow_pickle"),
    (lambda p: ((p / "x.png").write_bytes(b""), p / "x.png")[1], "empty"),
    (lambda p: ((p / "x.png").write_bytes(b"not an image at all"), p / "x.png")[1], "cannot read image"),
])
def test_unusable_images_are_refused_with_the_reason(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(InputError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        read_image(path)


def test_truncated_and_missing_images_name_the_file(tmp_path):
    path = _save(tmp_path, "t.png", Image.fromarray((RNG.random((64, 64)) * 65535).astype(np.uint16)))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputError, match="t.png.*truncated"):
        read_image(path)
    with pytest.raises(MissingFileError, match="nowhere.png"):
        read_image(tmp_path / "nowhere.png")
    with pytest.raises(InputError, match="is a folder"):
        read_image(tmp_path)


def test_outputs_are_checked_before_any_work(tmp_path):
    with pytest.raises(InputError, match="bits=12"):
        check_output(tmp_path / "a.png", 12)
    with pytest.raises(InputError, match=r"\.png"):
        check_output(tmp_path / "a.tif", 16)
    with pytest.raises(InputError, match="is a folder"):
        check_output(tmp_path, 16)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UnwritableError, match="not a writable folder"):
        check_output(tmp_path / "file" / "a.png", 16)
    assert check_output(tmp_path / "new" / "folder" / "a.png", 8) == tmp_path / "new" / "folder" / "a.png"


def test_an_interrupted_write_leaves_the_old_file_and_no_partial(tmp_path, monkeypatch):
    out = write_image(tmp_path / "sr.png", np.zeros((4, 4)), bits=8)
    before = out.read_bytes()

    def disk_full(self, path, *args, **kwargs):
        open(path, "wb").write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_image(out, np.ones((4, 4)), bits=8)
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["sr.png"]


def test_single_channel_reads_equal_channels_as_grey_and_refuses_colour(tmp_path):
    """One rule for every command that takes a target (predict, simulate=, inspect, score)."""
    grey = np.random.default_rng(0).random((5, 6)).astype(np.float32)
    np.testing.assert_array_equal(single_channel(grey, "g.png"), grey)
    np.testing.assert_array_equal(single_channel(np.stack([grey] * 3, axis=-1), "g.png"), grey)
    colour = np.stack([grey, grey, 1 - grey], axis=-1)
    with pytest.raises(InputError, match=r"^c\.png \(the target\): must be a single-channel .* colour image of shape \(5, 6, 3\)"):
        single_channel(colour, "c.png (the target)")
