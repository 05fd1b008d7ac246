"""A morph written as an animation: a GIF (Pillow), or an MP4 where OpenCV is installed.

The frames are whole photos, scaled down to at most :data:`ANIMATION_SIDE` pixels (GIFs of full-size photos are
large and slow to show); each frame shows :data:`FRAME_MS` milliseconds and the last one, the target, is held
:data:`HOLD_MS`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from landmarkgan.errors import LandmarkGANError

ANIMATION_SIDE = 1024
FRAME_MS = 80
HOLD_MS = 1000
FORMATS = (".gif", ".mp4")


def check_animation_path(path: str | os.PathLike) -> Path:
    """The path of an animation to write, checked before any work: a .gif, or a .mp4 with OpenCV installed."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise LandmarkGANError(f"an animation is written as .gif or .mp4, not {path.name!r}; name it like out.gif")
    if suffix == ".mp4":
        _video_writer()
    return path


def write_animation(frames: Sequence[np.ndarray], path: str | os.PathLike) -> Path:
    """Write frames (H, W, 3) uint8, all of one size, as the animation ``path`` names (.gif or .mp4)."""
    path = check_animation_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
        durations = [FRAME_MS] * (len(images) - 1) + [HOLD_MS]
        images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=False)
        return path
    cv2 = _video_writer()
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 1000 / FRAME_MS, (width, height))
    if not writer.isOpened():
        raise LandmarkGANError(f"OpenCV cannot write {path}; write a .gif instead")
    try:
        for frame in [*frames, *[frames[-1]] * (HOLD_MS // FRAME_MS - 1)]:
            writer.write(np.ascontiguousarray(frame[..., ::-1]))
    finally:
        writer.release()
    return path


def _video_writer():
    try:
        import cv2
    except ImportError:
        raise LandmarkGANError("writing .mp4 needs OpenCV (pip install opencv-python-headless); or write a .gif") \
            from None
    return cv2
