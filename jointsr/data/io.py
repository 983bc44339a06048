"""Reading images of any of the datasets' formats into floats in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np

INTEGER_PEAKS = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def read_array(path: str | Path) -> np.ndarray:
    """The raw pixel array of an image file (PNG, BMP, TIFF, JPEG) or a ``.npy`` array."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False)
        from PIL import Image

        with Image.open(path) as image:
            return np.asarray(image)
    except (OSError, ValueError) as error:
        raise OSError(f"cannot read image {path}: {error}; the file may be truncated or not an "
                      f"image (check it against the dataset's SHA256SUMS)") from error


def read_image(path: str | Path) -> np.ndarray:
    """An 8- or 16-bit image as float32 in [0, 1] (``/255`` or ``/65535``): (H, W) or (H, W, 3)."""
    array = read_array(path)
    peak = INTEGER_PEAKS.get(array.dtype)
    if peak is None:
        raise ValueError(f"{path}: expected an 8- or 16-bit image, got dtype {array.dtype}")
    image = array.astype(np.float32) / peak
    if image.ndim == 3 and image.shape[2] == 4:  # RGBA: drop alpha
        image = image[..., :3]
    return image


def write_image(path: str | Path, image: np.ndarray, bits: int = 16) -> Path:
    """Save a float image in [0, 1] as an 8- or 16-bit grey PNG, atomically (temporary
    file, then rename), so an interrupted write leaves no half-written image."""
    from PIL import Image

    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path}: only PNG output is supported (8/16-bit grey)")
    peak = 255 if bits == 8 else 65535
    pixels = np.round(np.clip(image, 0.0, 1.0) * peak).astype(np.uint8 if bits == 8 else np.uint16)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial.png")
    Image.fromarray(pixels).save(partial)
    partial.replace(path)
    return path
