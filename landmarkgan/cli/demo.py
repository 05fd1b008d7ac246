"""``landmarkgan demo``: the data and landmark pipeline end to end, on bundled faces.

1. A synthetic subject in every expression, with the exact 68 landmarks the renderer knows,
   the paper's landmark images and overlays.
2. A real photo (the bundled astronaut portrait): dlib finds the face and its 68 landmarks, the
   face is aligned to the model's frame, and its landmark image and overlay are written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the pipeline on bundled faces and write pictures to outputs/demo",
        description="Render a synthetic subject in every expression with its exact landmarks, detect and "
        "align the bundled real photo with dlib, and write the paper's landmark images and overlays.",
    )
    p.add_argument("--out", default="outputs/demo", help="folder to write (default outputs/demo)")
    p.add_argument("--size", type=int, default=256, help="side of the face images (default 256)")
    p.add_argument("--seed", type=int, default=7, help="which synthetic subject to draw (default 7)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from landmarkgan.assets import asset_path
    from landmarkgan.data.face_geometry import sample_identity
    from landmarkgan.data.images import load_image, save_image
    from landmarkgan.data.synthetic import render_face
    from landmarkgan.expressions import BASIC_EXPRESSIONS
    from landmarkgan.landmarks import align_face, draw_landmarks, landmark_image
    from landmarkgan.landmarks.detector import FaceLandmarkDetector

    out = Path(args.out)
    identity = sample_identity(np.random.default_rng(args.seed))
    columns = []
    for expression in BASIC_EXPRESSIONS:
        face, points = render_face(identity, expression, 0 if expression == "neutral" else 4, args.size)
        columns.append(np.concatenate([face, landmark_image(face, points), draw_landmarks(face, points)], axis=0))
    sheet = save_image(np.concatenate(columns, axis=1), out / "synthetic_expressions.png")
    print(f"synthetic subject in {len(BASIC_EXPRESSIONS)} expressions ({', '.join(BASIC_EXPRESSIONS)}): "
          f"face | landmark image | landmarks -> {sheet}")

    photo_path = asset_path("faces", "astronaut.jpg")
    photo = load_image(photo_path)
    found = FaceLandmarkDetector().detect_one(photo, str(photo_path.name))
    aligned = align_face(photo, found.landmarks, size=args.size)
    row = [aligned.image, landmark_image(aligned.image, aligned.landmarks), draw_landmarks(aligned.image, aligned.landmarks)]
    photo_sheet = save_image(np.concatenate(row, axis=1), out / "photo_landmarks.png")
    (out / "photo_landmarks.json").write_text(json.dumps({
        "image": photo_path.name, "detector_score": round(found.score, 3), "box": list(found.box),
        "landmarks_original": np.round(found.landmarks, 2).tolist(),
        "landmarks_aligned": np.round(aligned.landmarks, 2).tolist(), "aligned_size": args.size,
    }))
    print(f"real photo {photo_path.name}: dlib found one face (score {found.score:.2f}); aligned "
          f"{args.size}x{args.size} face | landmark image | landmarks -> {photo_sheet}")
    return 0
