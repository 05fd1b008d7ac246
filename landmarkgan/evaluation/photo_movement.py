"""How far a translated photo's features really moved: dlib's landmarks of the output against the generated ones.

On a real photo there is no true target to compare with. What can be measured is whether the output shows the
landmarks the model generated: dlib finds the 68 landmarks of the input face and of the output, and their
difference, projected on the generated displacement, says what share of the asked movement a face detector
reads in the picture (1: all of it, 0: none). ``tests/test_default_model.py`` holds the bundled model to this on
the bundled photo.
"""

from __future__ import annotations

import numpy as np

from landmarkgan.errors import LandmarkGANError
from landmarkgan.landmarks.detector import FaceLandmarkDetector

MOUTH = slice(48, 68)  # the iBUG-68 outer and inner lips


def face_landmarks(face: np.ndarray, detector: FaceLandmarkDetector) -> np.ndarray:
    """dlib's 68 landmarks (68, 2) of an aligned face (S, S, 3) uint8, in the face's own pixels
    (:meth:`~landmarkgan.landmarks.detector.FaceLandmarkDetector.small_face_landmarks`); an error when there is none."""
    found = detector.small_face_landmarks(face)
    if found is None:
        raise LandmarkGANError("dlib finds no face in the image; its landmarks cannot be measured")
    return found


def movement_along(measured: np.ndarray, generated: np.ndarray) -> float:
    """The share of the ``generated`` displacement (N, 2) that the ``measured`` one (N, 2) covers: the least-squares
    factor k of ``measured ~ k * generated``, sum(m . g) / sum(g . g)."""
    norm = float((generated**2).sum())
    if norm == 0:
        raise LandmarkGANError("the generated landmarks do not move; there is no movement to measure")
    return float((measured * generated).sum()) / norm


def mouth_movement(source: np.ndarray, output: np.ndarray, source_landmarks: np.ndarray, target_landmarks: np.ndarray,
                   detector: FaceLandmarkDetector) -> float:
    """How far dlib reads the mouth of ``output`` to have moved from ``source`` (both aligned faces), as a share of
    the generated mouth displacement ``target_landmarks - source_landmarks`` (68, 2 each, pixels)."""
    generated = (target_landmarks - source_landmarks)[MOUTH]
    measured = face_landmarks(output, detector)[MOUTH] - face_landmarks(source, detector)[MOUTH]
    return movement_along(measured, generated)
