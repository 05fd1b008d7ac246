"""What dlib reads of a perfect warp on a photo: the ceiling of issue 10's photo test for a warping model.

The bundled model translates the photo; then its aligned face is warped *exactly* (an interpolating thin-plate
spline evaluated at every pixel) from dlib's source landmarks to the source plus a share k of the generated
displacement, for k = 0.25, 0.5, 0.75 and 1, once as it is and once with the target's inner mouth painted dark
(an opening). For each, dlib's landmarks of the result give the share of the asked mouth movement it reads
(:mod:`landmarkgan.evaluation.photo_movement`, the measure of ``tests/test_default_model.py``): geometry that
is right by construction, read by a face detector.

    python scripts/photo_mouth_ceiling.py --expression surprise --intensity 4
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from landmarkgan.assets import asset_path
from landmarkgan.data.dataset import to_tensor, to_uint8
from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation.photo_movement import MOUTH, mouth_movement
from landmarkgan.inference import LandmarkGANPipeline
from landmarkgan.landmarks.detector import FaceLandmarkDetector
from landmarkgan.models.pdm import normalise
from landmarkgan.models.warp import warp

INNER_MOUTH = slice(60, 68)
OPENING = (30, 10, 10)  # the colour painted into the opening, RGB
SUPERSAMPLE = 4  # the opening is drawn at this many times the face's size, then shrunk (antialiased)


def exact_warp(face: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``face`` (S, S, 3) uint8 warped from ``source`` to ``target`` landmarks (68, 2, pixels), the TPS interpolating
    (almost no smoothing) and evaluated at every pixel."""
    size = face.shape[0]
    points = [normalise(torch.from_numpy(p)[None].float(), size) for p in (source, target)]
    return to_uint8(warp(to_tensor(face)[None], *points, grid=size, regularisation=1e-6))[0]


def paint_opening(face: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """``face`` with the polygon of the inner lips of ``landmarks`` filled dark, its edge softened."""
    size, s = face.shape[0], SUPERSAMPLE
    mask = Image.new("L", (size * s, size * s), 0)
    ImageDraw.Draw(mask).polygon([tuple((p + 0.5) * s) for p in landmarks[INNER_MOUTH]], fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(s / 2)).resize((size, size), Image.BILINEAR)
    alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255
    return np.round(face * (1 - alpha) + np.array(OPENING) * alpha).astype(np.uint8)


def read(source: np.ndarray, output: np.ndarray, source_landmarks: np.ndarray, target_landmarks: np.ndarray,
         detector: FaceLandmarkDetector) -> str:
    """:func:`mouth_movement` as a figure, or "no face" where dlib finds none in ``output``."""
    try:
        return f"{mouth_movement(source, output, source_landmarks, target_landmarks, detector):.2f}"
    except LandmarkGANError:
        return "no face"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", default=str(asset_path("faces") / "astronaut.jpg"))
    parser.add_argument("--model", default=None, help="a model folder (default: the bundled model)")
    parser.add_argument("--expression", default="surprise")
    parser.add_argument("--intensity", type=int, default=4)
    parser.add_argument("--shares", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    args = parser.parse_args()

    pipe = LandmarkGANPipeline.from_pretrained(args.model, device="cpu")
    result = pipe(args.photo, args.expression, args.intensity)
    detector = FaceLandmarkDetector()
    source, target = result.source_landmarks, result.landmarks
    width = lambda p: float(np.linalg.norm(p[54] - p[48]))  # noqa: E731
    print(f"{args.expression} {args.intensity}: mouth width {width(source):.1f} px -> {width(target):.1f} px, mouth "
          f"points moved {np.linalg.norm((target - source)[MOUTH], axis=1).mean():.2f} px on average (of a "
          f"{result.image.shape[0]} px face)")
    print(f"the model's output: dlib reads {read(result.source, result.image, source, target, detector)} "
          "of the generated mouth movement")
    print("share k of the displacement | dlib reads, exact warp | exact warp + dark opening")
    for k in args.shares:
        goal = source + k * (target - source)
        warped = exact_warp(result.source, source, goal)
        plain = read(result.source, warped, source, goal, detector)
        opened = read(result.source, paint_opening(warped, goal), source, goal, detector)
        print(f"{k:27.2f} | {plain:>21} | {opened}")


if __name__ == "__main__":
    main()
