"""Reading images of any of the datasets' formats into floats in [0, 1], and writing results.

What :func:`read_image` accepts, and how it is converted (anything else is refused with
the reason, never read as something else):

================================ ==========================================================
file                             read as
================================ ==========================================================
8-bit grey / RGB (L, RGB)        ``/ 255``
16-bit grey (PNG/TIFF ``I;16``)  ``/ 65535``
1-bit (mode ``1``)               0 or 1
palette (``P``, ``PA``)          the colours the palette maps to (RGB; grey when every
                                 colour is grey), not the indices
grey + alpha, RGBA (LA, RGBA)    the grey or RGB values; alpha is ignored
32-bit float TIFF (``F``)        as is, when every value is finite and in [0, 1]
``.npy``                         uint8 ``/ 255``, uint16 ``/ 65535``, bool, or float in
                                 [0, 1]; (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)
CMYK, Lab, HSV, 32-bit integer   refused: convert to RGB / grey, 8 or 16 bits, first
================================ ==========================================================
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from jointsr.errors import InputError, MissingFileError, UnwritableError

INTEGER_PEAKS = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
#: PIL modes read as they are (integer grey or RGB, 1-bit)
_DIRECT_MODES = {"1", "L", "RGB", "I;16", "I;16L", "I;16B", "F"}
#: PIL modes converted to another mode first: the palette's colours, alpha dropped
_CONVERTED_MODES = {"P": "RGBA", "PA": "RGBA", "LA": "L", "RGBA": "RGB", "RGBX": "RGB", "La": "L", "RGBa": "RGB"}
_REFUSED_MODES = {
    "CMYK": "a CMYK (print) image: convert it to RGB with a colour-managed tool first",
    "YCbCr": "a YCbCr image: convert it to RGB first",
    "LAB": "a Lab image: convert it to RGB first",
    "HSV": "an HSV image: convert it to RGB first",
    "I": "a 32-bit integer image: save it with 8 or 16 bits, or as floats in [0, 1] (.npy)",
}
OUTPUT_SUFFIXES = (".png",)
#: file suffixes read as images where a folder is scanned (jointsr-score, data=pairs)
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg", ".npy", ".pgm", ".ppm")
OUTPUT_BITS = (8, 16)


def _existing(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise MissingFileError(f"image file not found: {path}")
    if not path.is_file():
        raise InputError(f"{path} is a folder, not an image file")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes): not an image")
    return path


@contextlib.contextmanager
def _decoding(path: Path) -> Iterator[None]:
    """Turn whatever a decoder raises on a broken file into one :class:`InputError`."""
    try:
        yield
    except (InputError, MemoryError):
        raise
    except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, zlib/struct errors ...
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"cannot read image {path}: {reason}; the file may be truncated, corrupt or not "
                         f"an image") from None


def _load_npy(path: Path) -> np.ndarray:
    with _decoding(path):
        return np.load(path, allow_pickle=False)


def read_array(path: str | Path) -> np.ndarray:
    """The raw pixel array of an image file (PNG, BMP, TIFF, JPEG) or a ``.npy`` array."""
    path = _existing(path)
    if path.suffix.lower() == ".npy":
        return _load_npy(path)
    from PIL import Image

    with _decoding(path), Image.open(path) as image:
        return np.asarray(image)


def _pil_pixels(path: Path) -> np.ndarray:
    """The pixels of an image file after the mode rules of the module docstring."""
    from PIL import Image

    with _decoding(path), Image.open(path) as image:
        mode = image.mode
        if mode in _REFUSED_MODES:
            raise InputError(f"{path} is {_REFUSED_MODES[mode]}")
        if mode in _CONVERTED_MODES:
            pixels = np.asarray(image.convert(_CONVERTED_MODES[mode]))
            if mode in ("P", "PA"):  # the palette's colours; a grey palette gives a grey image
                pixels = pixels[..., :3]
                if (pixels == pixels[..., :1]).all():
                    pixels = pixels[..., 0]
            return pixels
        if mode not in _DIRECT_MODES:
            raise InputError(f"{path}: image mode {mode!r} is not supported; save it as 8- or 16-bit grey "
                             f"or 8-bit RGB")
        return np.asarray(image)


def to_unit_float(array: np.ndarray, path: str | Path) -> np.ndarray:
    """An image array as float32 in [0, 1], (H, W) or (H, W, 3), or an :class:`InputError`."""
    if array.ndim == 3 and array.shape[2] in (1, 3, 4):
        array = array[..., 0] if array.shape[2] == 1 else array[..., :3]  # alpha ignored
    elif array.ndim != 2:
        raise InputError(f"{path}: an image must be (H, W) or (H, W, 3) (channels last), got shape "
                         f"{array.shape}")
    if array.size == 0:
        raise InputError(f"{path} has no pixels (shape {array.shape})")
    dtype = array.dtype.newbyteorder("=") if array.dtype.byteorder not in ("=", "|") else array.dtype
    if dtype in INTEGER_PEAKS:
        return array.astype(np.float32) / INTEGER_PEAKS[dtype]
    if dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(dtype, np.floating):
        image = array.astype(np.float32)
        if not np.isfinite(image).all():
            raise InputError(f"{path} holds NaN or infinite values: floats must be finite, in [0, 1]")
        low, high = float(image.min()), float(image.max())
        if low < 0.0 or high > 1.0:
            raise InputError(f"{path}: float pixels must be in [0, 1], found [{low:g}, {high:g}]; divide by "
                             f"the peak value first")
        return image
    raise InputError(f"{path}: pixel type {array.dtype} is not supported; use 8- or 16-bit unsigned "
                     f"integers, or floats in [0, 1]")


def read_image(path: str | Path) -> np.ndarray:
    """An image as float32 in [0, 1], (H, W) or (H, W, 3), converted as the module docstring
    says (8-bit ``/255``, 16-bit ``/65535``, palettes to their colours, floats as they are)."""
    path = _existing(path)
    array = _load_npy(path) if path.suffix.lower() == ".npy" else _pil_pixels(path)
    return to_unit_float(array, path)


def single_channel(image: np.ndarray, what: str) -> np.ndarray:
    """``image`` as (H, W): a colour file whose three channels are equal is grey; a colour
    image is refused with one line naming ``what`` (a path, or ``simulate=<path>``)."""
    if image.ndim == 3:
        if not (image == image[..., :1]).all():
            raise InputError(f"{what}: must be a single-channel (grey) image (the target: NIR, a spectral band, "
                             f"depth), got a colour image of shape {image.shape}; convert it to grey first")
        image = image[..., 0]
    return image


def check_output(path: str | Path, bits: int) -> Path:
    """Check an output image path and bit depth before any work is done (no file is written)."""
    path = Path(path).expanduser()
    if bits not in OUTPUT_BITS:
        raise InputError(f"bits={bits}: the output PNG has 8 or 16 bits (bits=8 or bits=16)")
    if path.is_dir():
        raise InputError(f"out={path} is a folder: name the output file, e.g. out={path / 'sr.png'}")
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(f"out={path}: the output must be a .png file (8/16-bit grey); other formats "
                         f"are not written")
    folder = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
    if folder is None or not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise UnwritableError(f"cannot write out={path}: {folder} is not a writable folder; choose "
                              f"another output path")
    return path


def write_image(path: str | Path, image: np.ndarray, bits: int = 16) -> Path:
    """Save a float image in [0, 1] as an 8- or 16-bit grey PNG, atomically
    (:func:`jointsr.files.atomic_path`), so an interrupted write leaves no half-written image."""
    from PIL import Image

    from jointsr.files import atomic_path

    path = check_output(path, bits)
    peak = 255 if bits == 8 else 65535
    pixels = np.round(np.clip(image, 0.0, 1.0) * peak).astype(np.uint8 if bits == 8 else np.uint16)
    with atomic_path(path) as partial:
        Image.fromarray(pixels).save(partial, format="PNG")
    return path
