"""Reading and writing images with errors a user can act on.

Every image a user brings (a file, the bytes of an upload, a PIL image) becomes an RGB uint8 array
in one place, :func:`to_rgb`:

* its size is checked from the header, before anything is decoded: a decompression bomb (a small
  file that decodes to a huge image) and degenerate sizes (a 20000 x 5 strip) are refused;
* its EXIF orientation is applied, so a phone photo stored sideways comes out upright;
* every mode is converted: 16-bit grey scaled to 0..255 (not clipped to white), 32-bit and float grey
  by their range, transparency composited onto white, palette, CMYK and the rest by Pillow.

Only the common photo formats are opened (:data:`FORMATS`); Pillow's other plugins (EPS, which
runs Ghostscript, and a long tail of rare formats) are never tried on a user's file.
"""

from __future__ import annotations

import io
import logging
import os
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from landmarkgan.errors import LandmarkGANError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif")
FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "PPM", "GIF")
MAX_PIXELS = 50_000_000  # refuse decompression bombs long before memory runs out
MIN_SIDE = 16  # no face fits in fewer pixels
EXIF_ORIENTATION = 0x0112

# Pillow's warnings about a damaged file ("Corrupt EXIF data", "Truncated File Read") would print around
# our one-line answer, and its decompression bomb warning repeats our own, lower, budget.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
# Likewise its log errors (a damaged TIFF header), which Python prints to stderr when logging is not set up.
logging.getLogger("PIL").addHandler(logging.NullHandler())

class ImageTooLarge(LandmarkGANError):
    """An image with more pixels than the budget (the web server answers it with 413)."""


_ORIENTATION = {  # EXIF orientation -> the transpose that makes the image upright (as ImageOps.exif_transpose)
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_GREY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa")


def load_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Load an image file as RGB uint8 (H, W, 3) (see :func:`to_rgb` for what is checked and converted)."""
    path = Path(path)
    if not path.is_file():
        raise LandmarkGANError(f"image {path} does not exist")
    return _decode(path, str(path), max_pixels)


def decode_image(data: bytes, name: str = "the upload", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode image bytes (an upload) as RGB uint8 (H, W, 3), with the same checks as :func:`load_image`."""
    if not data:
        raise LandmarkGANError(f"{name} is empty")
    return _decode(io.BytesIO(data), name, max_pixels)


def check_size(width: int, height: int, name: str, max_pixels: int | None = MAX_PIXELS) -> None:
    """Refuse an image too small to hold a face or (``max_pixels``) too large to decode."""
    if min(width, height) < MIN_SIDE:
        raise LandmarkGANError(
            f"{name} is {width}x{height} pixels; a face image needs at least {MIN_SIDE} pixels on each side"
        )
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLarge(
            f"{name} is {width}x{height} pixels ({width * height / 1e6:.1f} megapixels), more than the limit of "
            f"{max_pixels / 1e6:g} megapixels; downscale it first"
        )


def to_rgb(image: Image.Image, name: str = "the image", max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """A PIL image (opened lazily from a file, or in memory) as RGB uint8 (H, W, 3).

    The size is checked before the pixels are decoded, the EXIF orientation is applied, and every
    mode is converted (16-bit grey to 0..255, transparency onto white). ``image`` is not changed.
    """
    check_size(image.width, image.height, name, max_pixels)
    try:
        image.load()
        upright = _ORIENTATION.get(image.getexif().get(EXIF_ORIENTATION))
        if upright is not None:
            image = image.transpose(upright)
        return _rgb_pixels(image)
    except Exception as e:  # Pillow's decoders raise many types on a damaged or hostile file
        raise _unreadable(name, e) from None


def shrink(image: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """``image`` scaled down (box filter) so its longer side is at most ``side``, and the scale (1.0: unchanged)."""
    scale = min(1.0, side / max(image.shape[:2]))
    if scale == 1.0:
        return image, 1.0
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX)), scale


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


def save_photo(array: np.ndarray, path: str | os.PathLike, icc_profile: bytes | None = None) -> Path:
    """Save a photo (H, W, 3) uint8 by its suffix: JPEG at quality 95 without chroma subsampling (so pixels away from
    an edit stay within a grey level of the input), else losslessly (PNG); ``icc_profile`` is kept where given."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    options: dict = {"icc_profile": icc_profile} if icc_profile else {}
    if path.suffix.lower() in (".jpg", ".jpeg"):
        options.update(quality=95, subsampling=0)
    Image.fromarray(np.ascontiguousarray(array)).save(path, **options)
    return path


def photo_suffix(path: str | os.PathLike) -> str:
    """The suffix a result of this input photo is written with: ".jpg" for a JPEG, else ".png" (lossless)."""
    return ".jpg" if Path(path).suffix.lower() in (".jpg", ".jpeg") else ".png"


def icc_profile(path: str | os.PathLike) -> bytes | None:
    """The colour profile embedded in an image file (read from its header), or None."""
    try:
        with Image.open(path, formats=FORMATS) as image:
            return image.info.get("icc_profile") or None
    except Exception:  # an unreadable file has been refused when its pixels were read
        return None


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _decode(source: Path | io.BytesIO, name: str, max_pixels: int) -> np.ndarray:
    try:
        image = Image.open(source, formats=FORMATS)  # reads the header only
    except Image.DecompressionBombError as e:  # Pillow's own limit, far above ours: say ours
        found = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(found.group(1)) / 1e6:,.0f} megapixels" if found else "far too large"
        raise ImageTooLarge(
            f"{name} is {size}, more than the limit of {max_pixels / 1e6:g} megapixels; downscale it first"
        ) from None
    except UnidentifiedImageError:
        raise LandmarkGANError(
            f"cannot read {name} as an image: it is not an image file this tool reads ({', '.join(FORMATS)})"
        ) from None
    except Exception as e:
        raise _unreadable(name, e) from None
    with image:
        return to_rgb(image, name, max_pixels)


def _rgb_pixels(image: Image.Image) -> np.ndarray:
    if image.mode in _GREY_MODES:
        grey = _grey_levels(np.asarray(image), image.mode)
        return np.repeat(grey[..., None], 3, axis=2)
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        rgb = Image.new("RGB", image.size, (255, 255, 255))
        rgb.paste(rgba, mask=rgba.getchannel("A"))
        return np.asarray(rgb)
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


def _grey_levels(values: np.ndarray, mode: str) -> np.ndarray:
    """16-bit, 32-bit integer or float grey values as uint8 0..255: 16-bit modes by their full range,
    the others by the range their values reach (0..1 for floats, 0..255, 0..65535, or 0..their maximum)."""
    values = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    high = float(values.max()) if values.size else 0.0
    if mode.startswith("I;16"):
        top = 65535.0
    elif mode == "F" and high <= 1.0:
        top = 1.0
    else:
        top = 255.0 if high <= 255 else 65535.0 if high <= 65535 else high
    return (np.clip(values, 0, top) * (255 / top) + 0.5).astype(np.uint8)


def _unreadable(name: str, error: Exception) -> LandmarkGANError:
    lines = str(error).strip().splitlines()
    # Pillow's messages may hold the repr of our in-memory file ("<_io.BytesIO object at 0x...>"): say "the data"
    detail = re.sub(r"<[^<>]* at 0x[0-9a-fA-F]+>", "the data", lines[0])[:200] if lines else type(error).__name__
    return LandmarkGANError(f"cannot read {name} as an image ({detail}); is the file corrupt or truncated?")
