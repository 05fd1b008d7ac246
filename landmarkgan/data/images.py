"""Reading and writing images with errors a user can act on."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from landmarkgan.errors import LandmarkGANError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
MAX_PIXELS = 50_000_000  # refuse decompression bombs long before memory runs out


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Load an image file as RGB uint8 (H, W, 3); grey and RGBA images are converted."""
    path = Path(path)
    if not path.is_file():
        raise LandmarkGANError(f"image {path} does not exist")
    return _decode(path, str(path))


def decode_image(data: bytes, name: str = "the upload") -> np.ndarray:
    """Decode image bytes (an upload) as RGB uint8 (H, W, 3), with the same checks as :func:`load_image`."""
    if not data:
        raise LandmarkGANError(f"{name} is empty")
    return _decode(io.BytesIO(data), name)


def _decode(source: Path | io.BytesIO, name: str) -> np.ndarray:
    try:
        with Image.open(source) as im:
            if im.width * im.height > MAX_PIXELS:
                raise LandmarkGANError(
                    f"image {name} is {im.width}x{im.height}, larger than {MAX_PIXELS:,} pixels; downscale it first"
                )
            im.load()
            return np.asarray(im.convert("RGB"))
    except LandmarkGANError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise LandmarkGANError(f"cannot read {name} as an image ({e}); is the file corrupt or truncated?") from None


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """An RGB uint8 (H, W, 3) image resized (bicubic) to size x size; unchanged when already that size."""
    if image.shape[:2] == (size, size):
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC))


def save_image(array: np.ndarray, path: str | os.PathLike) -> Path:
    """Save an RGB uint8 array (H, W, 3) to ``path``, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array)).save(path)
    return path


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES
