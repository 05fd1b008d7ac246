"""The 68-point iBUG/300-W landmark convention (the order dlib and OpenFace use).

"Right" is the subject's right, i.e. the image left: 0-16 jaw (8 is the chin), 17-21 right brow,
22-26 left brow, 27-30 nose bridge, 31-35 nose bottom, 36-41 right eye, 42-47 left eye,
48-59 outer lips (48 and 54 the mouth corners), 60-67 inner lips.
"""

from __future__ import annotations

import numpy as np

from landmarkgan.errors import LandmarkGANError

NUM_LANDMARKS = 68

# name -> (first index, last index + 1, closed contour?)
GROUPS: dict[str, tuple[int, int, bool]] = {
    "jaw": (0, 17, False),
    "right_brow": (17, 22, False),
    "left_brow": (22, 27, False),
    "nose_bridge": (27, 31, False),
    "nose_bottom": (31, 36, False),
    "right_eye": (36, 42, True),
    "left_eye": (42, 48, True),
    "outer_lips": (48, 60, True),
    "inner_lips": (60, 68, True),
}

# Points that an expression barely moves (eye corners and lids, nose): alignment fits these.
STABLE_POINTS: tuple[int, ...] = tuple(range(27, 48))

# Where the stable points sit in an aligned face crop, as fractions of its side (x right, y down).
# They are the mean neutral face of the synthetic renderer at zero pose (a test recomputes them),
# so real faces aligned with them are framed exactly like the built-in synthetic faces.
ALIGNED_TEMPLATE = np.array([
    [0.500, 0.394], [0.500, 0.441], [0.500, 0.489], [0.500, 0.536],                  # 27-30 bridge
    [0.464, 0.539], [0.482, 0.550], [0.500, 0.555], [0.518, 0.550], [0.536, 0.539],  # 31-35 nose bottom
    [0.345, 0.399], [0.378, 0.380], [0.411, 0.382], [0.444, 0.402], [0.411, 0.412], [0.378, 0.411],  # 36-41
    [0.556, 0.402], [0.589, 0.382], [0.622, 0.380], [0.655, 0.399], [0.622, 0.411], [0.589, 0.412],  # 42-47
])


def check_landmarks(landmarks: np.ndarray, what: str = "landmarks") -> np.ndarray:
    """``landmarks`` as a float64 (68, 2) array of finite (x, y) pixel positions, or a clear error."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (NUM_LANDMARKS, 2):
        raise LandmarkGANError(f"{what} must be 68 (x, y) points, shape (68, 2), got {points.shape}")
    if not np.isfinite(points).all():
        raise LandmarkGANError(f"{what} contain NaN or infinite coordinates")
    return points
