"""What the pipeline returns: a :class:`PhotoTranslation` (the whole photo with its faces changed), made of one
:class:`Translation` per face (in the model's frame); and what it reads: a photo's faces found and aligned
(:class:`PhotoFaces` of :class:`AlignedInput`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from landmarkgan.data.images import resize_image
from landmarkgan.errors import LandmarkGANError
from landmarkgan.inference.control import ControlLabel
from landmarkgan.inference.photo import FacePaste, WarpSettings, paste_back, scaled_paste
from landmarkgan.landmarks.align import apply_transform, invert_transform
from landmarkgan.landmarks.drawing import draw_landmarks


@dataclass(repr=False)
class Translation:
    """One translated face, all in pixels of the model's S x S frame.

    ``source`` is the face the model read (the aligned crop of the photo) and ``source_landmarks`` the
    landmarks dlib found on it (None when the input was not aligned). ``matrix`` maps a point of the
    original photo into the frame and ``box`` is the face's box in the photo (both None when not aligned);
    ``paste`` is what pasting the face back into the photo needs.
    """

    expression: str
    intensity: int
    image: np.ndarray
    landmarks: np.ndarray
    landmark_image: np.ndarray
    source: np.ndarray
    source_landmarks: np.ndarray | None = None
    matrix: np.ndarray | None = None
    box: tuple[int, int, int, int] | None = None
    paste: FacePaste | None = None
    control: ControlLabel | None = None

    @property
    def label(self) -> str:
        """What was asked, for people: "happy 4", or a control's description ("happy 2.5, mouth x1.5")."""
        if self.control is not None:
            return self.control.text
        return f"{self.expression} {self.intensity}" if self.intensity else self.expression

    @property
    def name(self) -> str:
        """What was asked, for file names: "happy4", "happy2.5_mouth1.5"."""
        return self.control.slug if self.control is not None else self.label.replace(" ", "")

    def __repr__(self) -> str:
        where = f" at {self.box}" if self.box is not None else ""
        return f"Translation({self.label}, {self.image.shape[1]}x{self.image.shape[0]} face{where})"

    def overlay(self) -> np.ndarray:
        """The translated face with its generated landmarks drawn over it."""
        return draw_landmarks(self.image, self.landmarks)

    def landmarks_in_photo(self, points: np.ndarray | None = None) -> np.ndarray:
        """``points`` (default: the generated landmarks) of the frame in the photo's pixels (unchanged when the input
        was not aligned)."""
        points = self.landmarks if points is None else points
        if self.matrix is None:
            return np.asarray(points, dtype=np.float64)
        return apply_transform(invert_transform(self.matrix), np.asarray(points, dtype=np.float64))

    def to_json(self) -> dict:
        record = {"expression": self.expression, "intensity": self.intensity, "image_size": int(self.image.shape[0]),
                  "landmarks": np.round(self.landmarks.astype(np.float64), 2).tolist()}
        if self.control is not None:
            record["control"] = self.control.record
        if self.matrix is not None:
            record["landmarks_in_photo"] = np.round(self.landmarks_in_photo(), 2).tolist()
        return record


@dataclass(repr=False)
class PhotoTranslation:
    """A photo with its faces translated to one expression.

    ``photo`` is the whole photo, at its own size and orientation, with every translated face pasted back and every
    pixel away from them unchanged; ``faces`` are the translated faces, left to right, each a :class:`Translation`
    in the model's frame; ``skipped`` says why a face found was not translated (too small). The first face's fields
    (``image``, ``landmarks``, ``overlay()``, ...) are the result's own too, for the common one-face photo.
    """

    faces: list[Translation]
    original: np.ndarray
    settings: WarpSettings
    skipped: list[str] = field(default_factory=list)

    @cached_property
    def photo(self) -> np.ndarray:
        """The whole photo with the faces translated, (H, W, 3) uint8 (computed once, on first use)."""
        return self.render_photo()

    def render_photo(self, onto: np.ndarray | None = None) -> np.ndarray:
        """:attr:`photo`, computed anew (and not kept); or, ``onto`` the photo scaled down (a preview at the size it
        is shown), the faces pasted into that."""
        pastes = [face.paste for face in self.faces]
        if any(p is None for p in pastes):  # an aligned crop taken as it is: the translated crop is the photo
            return self.faces[0].image if onto is None else resize_image(self.faces[0].image, onto.shape[0])
        if onto is None:
            return paste_back(self.original, pastes, self.settings)
        scale = onto.shape[1] / self.original.shape[1]
        return paste_back(onto, [scaled_paste(p, scale) for p in pastes], self.settings)

    def __repr__(self) -> str:
        height, width = self.original.shape[:2]
        return f"PhotoTranslation({self.label}, {len(self.faces)} face(s) in a {width}x{height} photo)"

    def __getattr__(self, name: str):
        # the first face's fields: image, landmarks, landmark_image, source, source_landmarks, matrix, box, label,
        # name, control, overlay, expression, intensity
        if name in _FACE_FIELDS and "faces" in self.__dict__:  # (not while copy or pickle builds the object)
            return getattr(self.__dict__["faces"][0], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def to_json(self) -> dict:
        """The expression, the photo's size and every face's box and landmarks (generated, and found in the input)
        in the photo's pixels."""
        height, width = self.original.shape[:2]
        faces = []
        for face in self.faces:
            record = {"box": list(face.box) if face.box is not None else None,
                      "landmarks": np.round(face.landmarks_in_photo(), 2).tolist()}
            if face.source_landmarks is not None:
                record["source_landmarks"] = np.round(face.landmarks_in_photo(face.source_landmarks), 2).tolist()
            faces.append(record)
        record = {"expression": self.expression, "intensity": self.intensity, "width": width, "height": height,
                  "faces": faces}
        if self.control is not None:
            record["control"] = self.control.record
        return record


_FACE_FIELDS = frozenset({"expression", "intensity", "label", "name", "control", "image", "landmarks", "landmark_image",
                          "source", "source_landmarks", "matrix", "box", "overlay", "landmarks_in_photo"})


@dataclass
class AlignedInput:
    """A face in the model's frame: uint8 (S, S, 3), its detected landmarks, the photo-to-frame matrix and its box in
    the photo (the last three None for an input taken as an aligned crop)."""

    face: np.ndarray
    landmarks: np.ndarray | None = None
    matrix: np.ndarray | None = None
    box: tuple[int, int, int, int] | None = None


@dataclass
class PhotoFaces:
    """A photo (H, W, 3) uint8 and its faces to translate, aligned, left to right; ``skipped`` says why a face
    found was left out."""

    pixels: np.ndarray
    faces: list[AlignedInput]
    skipped: list[str] = field(default_factory=list)

    def chosen(self, numbers: Sequence[int]) -> "PhotoFaces":
        """These faces only (numbers into :attr:`faces`, left to right from 0)."""
        missing = [k for k in numbers if not 0 <= k < len(self.faces)]
        if missing or not numbers:
            raise LandmarkGANError(f"the photo has {len(self.faces)} face(s), numbered 0 to {len(self.faces) - 1} "
                                   f"from the left; choose at least one of them")
        return PhotoFaces(self.pixels, [self.faces[k] for k in sorted(set(numbers))], list(self.skipped))
