"""The validation grid: bicubic | prediction | truth | error side by side, each panel under a
label strip that names it; the two estimates' labels give their PSNR against the truth.

Pure functions of arrays (no logger, no tensor): the LightningModule passes the first
validation image's channel 0, the loggers store the ``uint8`` result.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from jointsr.metrics.protocol import psnr, to_uint8_values

#: the error panel shows ``|prediction - truth|`` times this, clipped to 1: an error of 0.01 is 10% grey
ERROR_GAIN = 10
#: pixels between a label's text and the strip's edges
MARGIN = 2
#: the label strip's background and text (grey levels of the single-channel grid)
BACKGROUND, INK = 0, 255


def panel_titles(bicubic: np.ndarray, prediction: np.ndarray, truth: np.ndarray) -> list[str]:
    """The labels of the four panels: the bicubic and predicted images with their PSNR against
    ``truth`` (the protocol's PSNR, peak 1, on the whole panel, 2 decimals), then the truth and
    the error with its gain. Arrays are (H, W) floats in [0, 1]."""
    return [f"bicubic {psnr(bicubic, truth):.2f} dB", f"prediction {psnr(prediction, truth):.2f} dB",
            "truth", f"|error| x{ERROR_GAIN}"]


def error_panel(prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``|prediction - truth|`` amplified by :data:`ERROR_GAIN` and clipped to [0, 1]."""
    return np.clip(ERROR_GAIN * np.abs(prediction - truth), 0.0, 1.0)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A [0, 1] float image as 8-bit grey levels, as the protocol's SSIM sees it (``im2uint8``)."""
    return to_uint8_values(image).astype(np.uint8)


def validation_grid(bicubic: np.ndarray, prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The labelled ``uint8`` grid bicubic | prediction | truth | error of one (H, W) image."""
    panels = [bicubic, prediction, truth, error_panel(prediction, truth)]
    return labelled_grid([to_uint8(panel) for panel in panels], panel_titles(bicubic, prediction, truth))


def labelled_grid(panels: Sequence[np.ndarray], titles: Sequence[str]) -> np.ndarray:
    """``panels`` ((H, W_i) uint8, one height) side by side, each under a strip holding its title
    in Pillow's default font. A title wider than its panel is wrapped at spaces (a word wider
    still is cut at the panel's edge); the strip is as tall as the tallest wrapped title. The
    panels' pixels are copied unchanged below the strip: (strip + H, sum W_i) uint8."""
    if len(panels) != len(titles):
        raise ValueError(f"{len(panels)} panels but {len(titles)} titles")
    if not panels or any(panel.ndim != 2 or panel.dtype != np.uint8 for panel in panels):
        raise ValueError("panels must be (H, W) uint8 arrays: "
                         f"{[(panel.shape, str(panel.dtype)) for panel in panels]}")
    if len({panel.shape[0] for panel in panels}) != 1:
        raise ValueError(f"panels of different heights: {[panel.shape for panel in panels]}")
    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    texts = [_wrapped(title, panel.shape[1] - 2 * MARGIN, measure, font) for panel, title in zip(panels, titles)]
    strip = max(measure.multiline_textbbox((0, 0), text, font=font)[3] for text in texts) + 2 * MARGIN
    columns = [np.vstack([_strip(text, panel.shape[1], strip, font), panel]) for panel, text in zip(panels, texts)]
    return np.hstack(columns)


def _wrapped(title: str, width: int, measure: ImageDraw.ImageDraw, font) -> str:
    """``title`` with its words on as few lines of ``width`` pixels as fit (one word per line at least)."""
    lines: list[str] = []
    for word in title.split():
        if lines and measure.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return "\n".join(lines)


def _strip(text: str, width: int, height: int, font) -> np.ndarray:
    """A (height, width) strip with ``text`` drawn from its top-left margin (cut at the edge)."""
    strip = Image.new("L", (width, height), BACKGROUND)
    ImageDraw.Draw(strip).multiline_text((MARGIN, MARGIN), text, fill=INK, font=font)
    return np.asarray(strip, dtype=np.uint8)
