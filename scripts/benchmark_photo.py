"""Whole-photo translation: time and memory from a photo file in to the translated photo file out (a benchmark).

For photos of 0.25, 1, 6 and 12 megapixels with one face (a real portrait scaled up, so the face grows with the
photo: the most paste-back work a photo of that size can ask for) and, when given, a group photo, it prints the time
per photo split into decode, detect (find and align the faces), translate (the model), paste back and encode, and
the process's peak memory. Each photo runs in a fresh process (the first run is a warm-up, then ``--repeats``
timed runs, the median kept), so peak memories do not mix. It also times the whole ``landmarkgan translate``
command, start to finish, on the smallest photo and the 6-megapixel one.

    python scripts/benchmark_photo.py                                   # the bundled astronaut, scaled
    python scripts/benchmark_photo.py --portrait single_face.jpg --group multi_face.jpg --detector auto
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

MEGAPIXELS = (0.25, 1.0, 6.0, 12.0)


def make_photo(portrait: Path, megapixels: float, folder: Path) -> Path:
    """The portrait scaled (bicubic) to about ``megapixels``, written as a JPEG at quality 92."""
    with Image.open(portrait) as image:
        image = image.convert("RGB")
        scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
        size = (round(image.width * scale), round(image.height * scale))
        path = folder / f"photo_{megapixels:g}mp.jpg"
        image.resize(size, Image.Resampling.BICUBIC).save(path, quality=92)
    return path


def measure_one(path: Path, detector: str, repeats: int) -> dict:
    """Translate one photo file ``repeats`` + 1 times in this process; the median split of the timed runs."""
    import torch

    from landmarkgan.data.images import load_image, save_photo
    from landmarkgan.inference import LandmarkGANPipeline

    torch.set_num_threads(torch.get_num_threads())
    pipe = LandmarkGANPipeline.from_pretrained(device="cpu", detector=detector)
    runs = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(repeats + 1):
            times = {}
            start = time.perf_counter()
            pixels = load_image(path)
            times["decode"] = time.perf_counter() - start
            start = time.perf_counter()
            found = pipe.find_faces(pixels)
            times["detect"] = time.perf_counter() - start
            start = time.perf_counter()
            result = pipe.translate_found(found, [("happy", 4)])[0]
            times["translate"] = time.perf_counter() - start
            start = time.perf_counter()
            photo = result.render_photo()
            times["paste back"] = time.perf_counter() - start
            start = time.perf_counter()
            save_photo(photo, Path(out) / "out.jpg")
            times["encode"] = time.perf_counter() - start
            runs.append(times)
    timed = runs[1:] or runs
    split = {k: statistics.median(r[k] for r in timed) for k in timed[0]}
    height, width = pixels.shape[:2]
    return {"photo": path.name, "size": f"{width}x{height}", "megapixels": width * height / 1e6,
            "faces": len(found.faces), **split, "total": sum(split.values()),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def command_time(path: Path, detector: str, repeats: int) -> float:
    """Median wall time of the whole ``landmarkgan translate`` command on one photo."""
    times = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "landmarkgan", "translate", str(path), "-e", "happy", "--detector",
                            detector, "-o", out], check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portrait", type=Path, help="a photo with one face (default: the bundled astronaut)")
    parser.add_argument("--group", type=Path, help="a photo with several faces, timed as it is")
    parser.add_argument("--detector", default="auto", choices=("hog", "cnn", "auto"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # measure one photo in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.detector, args.repeats)))
        return
    from landmarkgan.assets import asset_path

    portrait = args.portrait or asset_path("faces") / "astronaut.jpg"
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        photos = [make_photo(portrait, mp, Path(folder)) for mp in MEGAPIXELS]
        for path in photos + ([args.group] if args.group else []):
            done = subprocess.run([sys.executable, __file__, "--one", str(path), "--detector", args.detector,
                                   "--repeats", str(args.repeats)], check=True, capture_output=True, text=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"measured {rows[-1]['photo']}", file=sys.stderr)
        whole = {p.name: command_time(p, args.detector, args.repeats) for p in (photos[0], photos[2])}
    parts = ("decode", "detect", "translate", "paste back", "encode", "total")
    print(f"\nWhole-photo translation, detector {args.detector}, median of {args.repeats} runs (seconds; peak memory "
          "of the process):\n")
    print("| photo | size | faces | " + " | ".join(parts) + " | peak memory |")
    print("|---|---|---:|" + "---:|" * len(parts) + "---:|")
    for r in rows:
        cells = " | ".join(f"{r[p]:.3f}" for p in parts)
        print(f"| {r['photo']} | {r['size']} ({r['megapixels']:.2f} MP) | {r['faces']} | {cells} | {r['peak_mb']:.0f} MB |")
    small, large = rows[0], rows[len(MEGAPIXELS) - 1]
    print(f"\n12 MP against 0.25 MP: {large['total'] - small['total']:+.2f} s")
    (first, t0), (six, t6) = whole.items()
    print(f"`landmarkgan translate`, whole command: {first} {t0:.2f} s, {six} {t6:.2f} s (ratio {t6 / t0:.2f})")


if __name__ == "__main__":
    main()
