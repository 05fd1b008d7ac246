"""The landmarks package: the alignment template, alignment, the paper's landmark image, dlib detection, drawing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from skimage import data

from landmarkgan.data.face_geometry import face_shape, pose_transform, sample_identity
from landmarkgan.data.synthetic import render_face
from landmarkgan.errors import LandmarkGANError
from landmarkgan.landmarks import align_face, draw_landmarks, landmark_image, landmark_radius
from landmarkgan.landmarks.align import apply_transform, invert_transform, similarity_transform, warp_image
from landmarkgan.landmarks.detector import FaceLandmarkDetector
from landmarkgan.landmarks.encoding import landmark_mask
from landmarkgan.landmarks.ibug68 import ALIGNED_TEMPLATE, STABLE_POINTS

ASTRONAUT = data.astronaut()


def test_template_is_the_synthetic_mean_neutral_face() -> None:
    rng = np.random.default_rng(0)
    shapes = []
    for _ in range(300):
        identity = dataclasses.replace(sample_identity(rng), roll=0.0, yaw=0.0, scale=1.0, offset=(0.0, 0.0))
        shapes.append(pose_transform(identity, 1)(face_shape(identity, "neutral", 0).landmarks) + 0.5)
    mean = np.mean(shapes, axis=0)[list(STABLE_POINTS)]
    assert np.abs(mean - ALIGNED_TEMPLATE).max() < 1e-3


def test_similarity_transform_recovers_a_known_one() -> None:
    points = np.random.default_rng(1).uniform(0, 100, (21, 2))
    angle, scale, shift = 0.3, 1.7, np.array([5.0, -8.0])
    r = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = points @ r.T + shift
    m = similarity_transform(points, moved)
    assert np.allclose(m[:, :2], r) and np.allclose(m[:, 2], shift)
    assert np.allclose(apply_transform(invert_transform(m), moved), points)


@pytest.mark.parametrize("size", [64, 256])
def test_aligned_synthetic_face_lands_on_the_template(size: int) -> None:
    identity = dataclasses.replace(sample_identity(np.random.default_rng(5)), roll=0.25, scale=0.8, offset=(0.06, -0.04))
    image, landmarks = render_face(identity, "surprise", 4, 300)
    aligned = align_face(image, landmarks, size=size)
    assert aligned.image.shape == (size, size, 3) and aligned.image.dtype == np.uint8
    stable = aligned.landmarks[list(STABLE_POINTS)] / size
    assert np.abs(stable + 0.5 / size - ALIGNED_TEMPLATE).mean() < 0.02  # one face is not the mean face
    assert np.allclose(aligned.landmarks, apply_transform(aligned.matrix, landmarks), atol=1e-4)
    # the crop shows what the landmarks say: rendering the same face unrotated at that size puts the
    # eyes and mouth where align_face says they are (compare dark lid pixels near point 37)
    x, y = np.round(aligned.landmarks[37]).astype(int)
    patch = aligned.image[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3].mean()
    assert patch < aligned.image.mean()  # eyelid line is darker than the face on average


@pytest.mark.parametrize("scale", [0.2, 0.7, 1.0, 3.0])
def test_warp_puts_a_pixel_where_the_matrix_says(scale: float) -> None:
    """A bright 5 x 5 block around (x, y): after the warp its centre of mass is at matrix (x, y)."""
    image = np.zeros((400, 400, 3), np.uint8)
    image[197:202, 148:153] = 255  # centred on (150, 199)
    angle = 0.4
    m = np.array([[scale * np.cos(angle), -scale * np.sin(angle), 0.0], [scale * np.sin(angle), scale * np.cos(angle), 0.0]])
    m[:, 2] = np.array([64.0, 64.0]) - m[:, :2] @ np.array([150.0, 199.0])
    out = warp_image(image, m, 128).astype(np.float64)[..., 0]
    ys, xs = np.mgrid[:128, :128]
    centre = np.array([(xs * out).sum(), (ys * out).sum()]) / out.sum()
    assert np.allclose(centre, [64.0, 64.0], atol=0.35)


def test_align_rejects_bad_input() -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(LandmarkGANError, match="68"):
        align_face(image, np.zeros((5, 2)))
    with pytest.raises(LandmarkGANError, match="NaN"):
        align_face(image, np.full((68, 2), np.nan))
    with pytest.raises(LandmarkGANError, match="one point"):
        align_face(image, np.ones((68, 2)))
    with pytest.raises(LandmarkGANError, match="uint8"):
        align_face(image.astype(np.float32), np.random.default_rng(0).uniform(0, 64, (68, 2)))


def test_landmark_radius_follows_the_paper() -> None:
    assert landmark_radius(256) == 4.0 and landmark_radius(512) == 8.0 and landmark_radius(128) == 2.0
    assert landmark_radius(32) == 1.5


def test_landmark_image_by_hand() -> None:
    """One landmark at a pixel centre: the 49 pixels within distance 4 (the integer points of a disk of
    radius 4) take the image's colour; the other 67 landmarks lie off the image; the rest is white."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    landmarks = np.full((68, 2), -100.0)
    landmarks[0] = (10.0, 12.0)
    encoded = landmark_image(image, landmarks, radius=4.0)
    mask = landmark_mask(landmarks, 32, 32, 4.0)
    assert mask.sum() == 49
    assert mask[12, 14] and mask[16, 10] and not mask[15, 13]  # (4, 0) and (0, 4) in, (3, 3) out (18 > 16)
    assert np.array_equal(encoded[mask], image[mask])
    assert (encoded[~mask] == 255).all()


def test_landmark_image_rejects_bad_input() -> None:
    with pytest.raises(LandmarkGANError, match="uint8"):
        landmark_image(np.zeros((8, 8)), np.zeros((68, 2)))
    with pytest.raises(LandmarkGANError, match="68"):
        landmark_image(np.zeros((8, 8, 3), np.uint8), np.zeros((67, 2)))


@pytest.fixture(scope="module")
def detector() -> FaceLandmarkDetector:
    return FaceLandmarkDetector()


def test_dlib_finds_the_astronaut_and_her_68_points(detector: FaceLandmarkDetector) -> None:
    """HOG with upsampling also scores a patch of the flag above 0: the score threshold keeps one face."""
    found = detector.detect(ASTRONAUT)
    assert len(found) == 1 and found[0].score > 1.0
    left, top, right, bottom = found[0].box
    assert 150 < left < 200 and 60 < top < 100 and 240 < right < 290 and 150 < bottom < 190
    points = found[0].landmarks
    assert points.shape == (68, 2) and points.dtype == np.float32
    # the eyes lie above the nose tip, the nose tip above the mouth, the mouth above the chin
    right_eye, left_eye = points[36:42].mean(0), points[42:48].mean(0)
    assert right_eye[0] < left_eye[0]
    assert max(right_eye[1], left_eye[1]) < points[30, 1] < points[48:60, 1].mean() < points[8, 1]
    assert ((points >= (left - 15, top - 15)) & (points <= (right + 15, bottom + 25))).all()


def test_detection_counts_faces(detector: FaceLandmarkDetector) -> None:
    face = ASTRONAUT[20:276, 90:346]
    noise = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    assert detector.detect(noise) == []
    assert len(detector.detect(np.concatenate([face, face[:, ::-1]], axis=1))) == 2
    with pytest.raises(LandmarkGANError, match="no face found in noise"):
        detector.detect_one(noise, "noise")
    with pytest.raises(LandmarkGANError, match="2 faces found"):
        detector.detect_one(np.concatenate([face, face[:, ::-1]], axis=1))
    with pytest.raises(LandmarkGANError, match="uint8 RGB"):
        detector.detect(np.zeros((64, 64), np.uint8))
    with pytest.raises(LandmarkGANError, match="unknown face detector"):
        FaceLandmarkDetector("haar")


def test_drawing_marks_the_landmarks_only() -> None:
    image, landmarks = render_face(sample_identity(np.random.default_rng(2)), "happy", 3, 128)
    drawn = draw_landmarks(image, landmarks)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    changed = (drawn != image).any(axis=2)
    for x, y in np.round(landmarks).astype(int):
        assert changed[y, x]
    assert not changed[:10].any() and not changed[:, :10].any()  # far from the face nothing changes
