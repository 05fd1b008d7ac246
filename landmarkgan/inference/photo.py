"""A photo's journey around the model: find its faces, align each one into the model's frame, and paste each
translated face back into the photo at the photo's own size.

The model sees an S x S aligned crop of each face. Its answer goes back into the photo, which keeps its size,
orientation and every pixel away from the faces:

* The warp generator's stage II moves the face along its landmarks with a thin-plate spline. A spline maps points,
  so the same warp is evaluated in the photo's own pixel grid (through the alignment matrix): the face moves as the
  model moved it and keeps the photo's sharpness. What the refinement changed at the model's size (its output minus
  the warped face) is resized onto the photo (bicubic) and added.
* The paper's U-Net generator draws the whole face: its output is resized back onto the photo.
* Either way a feathered ellipse around the head (the one the warp pins, :func:`~landmarkgan.models.warp.head_ellipse`)
  joins the changed face to the untouched photo: fully changed inside it, blended over a band just outside, and the
  photo's own pixels beyond. Only the box around that ellipse is processed, so a large photo costs little more than
  a small one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from landmarkgan.data.images import shrink
from landmarkgan.errors import LandmarkGANError, quoted
from landmarkgan.landmarks.align import AlignedFace, align_face, apply_transform, invert_transform, similarity_transform
from landmarkgan.landmarks.ibug68 import ALIGNED_TEMPLATE, STABLE_POINTS
from landmarkgan.models.pdm import normalise
from landmarkgan.models.warp import head_ellipse, sampling_grid

DETECTION_SIDE = 1024  # photos are searched for faces at most this large (faces are aligned from the original)
FINDABLE_SIDE = 40  # dlib's HOG (upsampling once) finds faces down to about this many pixels of the searched image
MIN_FACE_SIDE = 48  # a face whose box is narrower than this many pixels of the photo is too small to translate
FEATHER = (0.85, 1.05)  # the blend: the face's change in full inside 0.85 of the head ellipse, none beyond 1.05
FACE_CHOICES = ("all", "largest")
FaceChoice = str | Sequence[int]


@dataclass(frozen=True)
class PhotoFace:
    """One face found in a photo: its box (left, top, right, bottom) and its 68 landmarks, in the photo's pixels."""

    box: tuple[int, int, int, int]
    landmarks: np.ndarray

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]


@dataclass(frozen=True)
class WarpSettings:
    """How the model's stage II warps (for pasting back): its generator ("warp" or "unet"), the warp's TPS
    smoothing and lattice."""

    generator: str
    regularisation: float = 0.0
    grid: int = 32


def check_faces(faces: FaceChoice) -> FaceChoice:
    """``faces`` as given, or a clear error: "all", "largest" or a list of face numbers (0 = the leftmost face)."""
    if isinstance(faces, str):
        if faces not in FACE_CHOICES:
            raise LandmarkGANError(f"faces must be 'all', 'largest' or a list of face numbers (0 = the leftmost), "
                                   f"got {quoted(faces)}")
        return faces
    chosen = list(faces) if isinstance(faces, Sequence) else None
    if not chosen or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0 for k in chosen):
        raise LandmarkGANError(f"faces must be 'all', 'largest' or a non-empty list of face numbers (0 = the "
                               f"leftmost), got {quoted(faces)}")
    return sorted(set(int(k) for k in chosen))


def find_faces(pixels: np.ndarray, detector: object, faces: FaceChoice = "all",
               what: str = "the image") -> tuple[list[PhotoFace], list[str]]:
    """The faces of a photo (H, W, 3) uint8 to translate, left to right, and a note for each face found but skipped
    (too small). ``faces``: "all", "largest", or face numbers (0 = the leftmost of all faces found).

    The photo is searched at most :data:`DETECTION_SIDE` pixels large; the landmarks are given in its own pixels.
    A clear error when there is no face to translate.
    """
    faces = check_faces(faces)
    small, scale = shrink(pixels, DETECTION_SIDE)
    if hasattr(detector, "detect"):
        found = detector.detect(small, every_face=faces != "largest")
    else:  # a detector object of the caller's, which finds one face
        found = [detector.detect_one(small, what)]
    if not found:
        raise LandmarkGANError(_no_face_message(what, detector, scale))
    everyone = sorted((detection_in_photo(d, scale) for d in found), key=lambda f: f.box[0] + f.box[2])
    if faces == "largest":
        chosen = [max(everyone, key=lambda f: f.width)]
    elif faces == "all":
        chosen = everyone
    else:
        missing = [k for k in faces if k >= len(everyone)]
        if missing:
            raise LandmarkGANError(f"{what} has {len(everyone)} face(s), numbered 0 to {len(everyone) - 1} from the "
                                   f"left; there is no face {missing[0]}")
        chosen = [everyone[k] for k in faces]
    kept = [f for f in chosen if f.width >= MIN_FACE_SIDE]
    skipped = [f"the face at {f.box} is {f.width} pixels wide, too small to translate (at least {MIN_FACE_SIDE}); "
               "use a closer or larger photo of it" for f in chosen if f.width < MIN_FACE_SIDE]
    if not kept:
        raise LandmarkGANError(f"no face in {what} is large enough to translate: {'; '.join(skipped)}")
    return kept, skipped


def detection_in_photo(detection: object, scale: float) -> PhotoFace:
    """A detection in a photo shrunk by ``scale`` (:func:`shrink`), its box and landmarks in the photo's own pixels."""
    box = tuple(int(round(v / scale)) for v in detection.box)
    return PhotoFace(box, (detection.landmarks + 0.5) / scale - 0.5)


def _no_face_message(what: str, detector: object, scale: float) -> str:
    kind = getattr(detector, "kind", "")
    hint = (" or the cnn or auto face detector, which also finds tilted heads" if kind == "hog" else "")
    message = f"no face found in {what}; use a photo with a clearly visible, roughly frontal face{hint}"
    if scale < 1:
        message += (f" (in a photo this large, faces narrower than about {FINDABLE_SIDE / scale:.0f} pixels are too "
                     "small to find: crop the photo around the face)")
    return message


def align_in_photo(pixels: np.ndarray, landmarks: np.ndarray, size: int) -> AlignedFace:
    """:func:`~landmarkgan.landmarks.align.align_face` of one face of a photo, reading only the part of the photo
    the S x S frame covers (so a 12-megapixel photo costs as much as a small one). The matrix maps the photo's
    pixels into the frame."""
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
    # where the frame lies in the photo, from the matrix of the whole-photo alignment
    whole = align_matrix(landmarks, size)
    spots = apply_transform(invert_transform(whole), corners)
    height, width = pixels.shape[:2]
    left, top = (max(0, int(np.floor(v)) - 4) for v in spots.min(0))
    right, bottom = min(width, int(np.ceil(spots[:, 0].max())) + 4), min(height, int(np.ceil(spots[:, 1].max())) + 4)
    if right <= left or bottom <= top:  # the frame lies outside the photo: align from the whole photo
        left, top, right, bottom = 0, 0, width, height
    offset = np.array([left, top], dtype=np.float64)
    aligned = align_face(np.ascontiguousarray(pixels[top:bottom, left:right]), landmarks - offset, size)
    shift = np.array([[1.0, 0.0, -left], [0.0, 1.0, -top], [0.0, 0.0, 1.0]])
    return aligned._replace(matrix=aligned.matrix @ shift)


def align_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    """The 2x3 matrix that aligns a face with these landmarks (68, 2) into the S x S frame."""
    stable = list(STABLE_POINTS)
    return similarity_transform(np.asarray(landmarks, dtype=np.float64)[stable], ALIGNED_TEMPLATE * size - 0.5)


@dataclass(frozen=True)
class FacePaste:
    """What the model did to one face, for pasting it back into the photo.

    ``matrix`` maps the photo into the S x S frame; ``source`` and ``target`` are the landmarks (68, 2, frame
    pixels) the warp moved the face from and to; ``change`` (S, S, 3) float32 is what the refinement added to the
    warped face (in grey levels) for the warp generator, and ``face`` (S, S, 3) uint8 the generated face for the
    U-Net generator.
    """

    matrix: np.ndarray
    source: np.ndarray
    target: np.ndarray
    change: np.ndarray | None = None
    face: np.ndarray | None = None


def offsets_in_frame(matrix: np.ndarray | None, offsets: np.ndarray | None) -> np.ndarray | None:
    """Moves of landmarks (N, 2) in the photo's pixels as moves in the face's frame (through the photo-to-frame
    matrix; without one the photo is the frame). None stays None."""
    if offsets is None or matrix is None:
        return offsets
    return np.asarray(offsets, dtype=np.float64) @ np.asarray(matrix, dtype=np.float64)[:, :2].T


def scaled_paste(paste: FacePaste, scale: float) -> FacePaste:
    """The paste for the photo scaled by ``scale`` (a preview): its matrix reads the scaled photo's pixels."""
    offset = 0.5 / scale - 0.5  # pixel centres: a pixel p of the scaled photo lies at (p + 0.5) / scale - 0.5
    to_photo = np.array([[1 / scale, 0.0, offset], [0.0, 1 / scale, offset], [0.0, 0.0, 1.0]])
    return replace(paste, matrix=np.asarray(paste.matrix, dtype=np.float64) @ to_photo)


def paste_back(photo: np.ndarray, pastes: Sequence[FacePaste], settings: WarpSettings) -> np.ndarray:
    """The photo (H, W, 3) uint8 with each translated face pasted back (see the module's description); the photo
    itself is not changed."""
    out = photo.copy()
    for paste in pastes:
        _paste_face(out, paste, settings)
    return out


def _paste_face(out: np.ndarray, paste: FacePaste, settings: WarpSettings) -> None:
    size = (paste.change if paste.change is not None else paste.face).shape[0]
    source = normalise(torch.as_tensor(paste.source, dtype=torch.float32)[None], size)
    cx, cy, ax, ay = head_ellipse(source)[0].tolist()
    box = _photo_box(paste.matrix, size, (cx, cy, FEATHER[1] * ax, FEATHER[1] * ay), out.shape)
    if box is None:
        return
    left, top, right, bottom = box
    ys, xs = torch.meshgrid(torch.arange(top, bottom, dtype=torch.float32),
                            torch.arange(left, right, dtype=torch.float32), indexing="ij")
    frame = _affine(paste.matrix, torch.stack([xs, ys], -1))  # frame pixels (h, w, 2)
    u = (frame + 0.5) / size  # the normalised frame
    radius = (((u[..., 0] - cx) / ax) ** 2 + ((u[..., 1] - cy) / ay) ** 2).sqrt()
    weight = _smoothstep((FEATHER[1] - radius) / (FEATHER[1] - FEATHER[0]))
    at = (u * 2 - 1)[None]  # grid_sample's coordinates of the frame (align_corners=False)
    if settings.generator == "warp":
        new = _warped(out, paste, source, at, size, settings)
        change = torch.as_tensor(paste.change, dtype=torch.float32).permute(2, 0, 1)[None]
        new = new + F.grid_sample(change, at, mode="bicubic", padding_mode="zeros", align_corners=False)[0]
    else:
        face = torch.as_tensor(paste.face, dtype=torch.float32).permute(2, 0, 1)[None]
        new = F.grid_sample(face, at, mode="bicubic", padding_mode="border", align_corners=False)[0]
    region = torch.as_tensor(out[top:bottom, left:right], dtype=torch.float32).permute(2, 0, 1)
    blended = region + weight[None] * (new - region)
    out[top:bottom, left:right] = blended.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def _warped(photo: np.ndarray, paste: FacePaste, source: torch.Tensor, at: torch.Tensor, size: int,
            settings: WarpSettings) -> torch.Tensor:
    """The photo warped as the model warped the face, at the photo's pixels ``at`` (1, h, w, 2; the frame in
    grid_sample's coordinates) -> (3, h, w) float grey levels."""
    target = normalise(torch.as_tensor(paste.target, dtype=torch.float32)[None], size)
    field = sampling_grid(source, target, size, settings.grid, settings.regularisation)  # (1, S, S, 2)
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    identity = torch.stack(torch.meshgrid(centres, centres, indexing="xy"), -1)[None]
    shift = (field - identity).permute(0, 3, 1, 2)  # the warp's displacement, (1, 2, S, S)
    moved = at + F.grid_sample(shift, at, mode="bilinear", padding_mode="border", align_corners=False).permute(0, 2, 3, 1)
    read = _affine(invert_transform(paste.matrix), (moved[0] + 1) / 2 * size - 0.5)  # photo pixels (h, w, 2)
    height, width = photo.shape[:2]
    low = read.reshape(-1, 2).amin(0).floor().long() - 2
    high = read.reshape(-1, 2).amax(0).ceil().long() + 3
    left, top = max(0, int(low[0])), max(0, int(low[1]))
    right, bottom = min(width, max(left + 1, int(high[0]))), min(height, max(top + 1, int(high[1])))
    region = torch.as_tensor(photo[top:bottom, left:right], dtype=torch.float32).permute(2, 0, 1)[None]
    scale = torch.tensor([right - left, bottom - top], dtype=torch.float32)
    grid = (read - torch.tensor([left, top], dtype=torch.float32) + 0.5) / scale * 2 - 1
    return F.grid_sample(region, grid[None], mode="bilinear", padding_mode="border", align_corners=False)[0]


def _photo_box(matrix: np.ndarray, size: int, ellipse: tuple[float, float, float, float],
               shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """The box of the photo (left, top, right, bottom) that holds the ellipse (normalised frame), or None when it
    lies outside the photo."""
    cx, cy, ax, ay = ellipse
    corners = np.array([[cx - ax, cy - ay], [cx + ax, cy - ay], [cx - ax, cy + ay], [cx + ax, cy + ay]]) * size - 0.5
    spots = apply_transform(invert_transform(matrix), corners)
    left, top = (max(0, int(np.floor(v)) - 1) for v in spots.min(0))
    right = min(shape[1], int(np.ceil(spots[:, 0].max())) + 2)
    bottom = min(shape[0], int(np.ceil(spots[:, 1].max())) + 2)
    return (left, top, right, bottom) if right > left and bottom > top else None


def _affine(matrix: np.ndarray, points: torch.Tensor) -> torch.Tensor:
    m = torch.as_tensor(matrix, dtype=torch.float32)
    return points @ m[:, :2].T + m[:, 2]


def _smoothstep(t: torch.Tensor) -> torch.Tensor:
    t = t.clamp(0, 1)
    return t * t * (3 - 2 * t)
