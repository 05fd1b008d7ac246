"""The synthetic expression data set: exact landmarks, readable expressions, determinism, files, CLI."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from landmarkgan.cli import main
from landmarkgan.data.images import load_image
from landmarkgan.data.manifest import read_manifest
from landmarkgan.data.synthetic import (
    LOWER_TEETH_COLOUR,
    MOUTH_COLOUR,
    TONGUE_COLOUR,
    UPPER_TEETH_COLOUR,
    FaceIdentity,
    render_face,
    sample_identity,
    synthesize_dataset,
)
from landmarkgan.errors import LandmarkGANError
from landmarkgan.expressions import BASIC_EXPRESSIONS, EXPRESSIONS


def identities(n: int, seed: int = 0) -> list[FaceIdentity]:
    rng = np.random.default_rng(seed)
    return [sample_identity(rng) for _ in range(n)]


def upright(identity: FaceIdentity) -> FaceIdentity:
    """The same subject facing the camera squarely, centred, at scale 1."""
    return dataclasses.replace(identity, roll=0.0, yaw=0.0, scale=1.0, offset=(0.0, 0.0))


def level(expression: str, intensity: int = 4) -> int:
    return 0 if expression == "neutral" else intensity


def inside(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd ray casting: which points lie strictly inside a closed polygon."""
    x, y = points[:, 0:1], points[:, 1:2]
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    crosses = ((y0 > y) != (y1 > y)) & (x < x0 + (y - y0) * (x1 - x0) / (y1 - y0 + 1e-12))
    return crosses.sum(1) % 2 == 1


def normalised(lm: np.ndarray) -> np.ndarray:
    """Landmarks centred, rotated so the eyes are level, and scaled by the eye distance."""
    lm = lm - lm.mean(0)
    eyes = lm[42:48].mean(0) - lm[36:42].mean(0)
    c, s = eyes / np.linalg.norm(eyes)
    return lm @ np.array([[c, -s], [s, c]]) / np.linalg.norm(eyes)


@pytest.fixture(scope="module")
def faces() -> list[FaceIdentity]:
    return identities(12)


def test_landmarks_lie_in_the_image_and_where_face_parts_belong(faces: list[FaceIdentity]) -> None:
    size = 96
    for identity in faces:
        for expression in EXPRESSIONS:
            image, lm = render_face(identity, expression, level(expression), size)
            assert image.shape == (size, size, 3) and image.dtype == np.uint8
            assert lm.shape == (68, 2) and lm.dtype == np.float32
            assert (lm >= 2).all() and (lm <= size - 3).all()
            n = normalised(lm)  # eyes level: "up" is -y
            jaw, right_brow, left_brow = n[0:17], n[17:22], n[22:27]
            # nose, eyes and mouth inside the outline of jaw and brows
            outline = np.concatenate([jaw, left_brow[::-1], right_brow[::-1]])
            assert inside(n[27:68], outline).all(), (expression, np.where(~inside(n[27:68], outline))[0] + 27)
            # vertical order: brows above eyes (all of a brow above the eye's corners, its middle above
            # the eye's top) above nose tip above mouth above chin
            for brow, eye in ((right_brow, n[36:42]), (left_brow, n[42:48])):
                assert brow[:, 1].max() < eye[[0, 3], 1].mean() and brow[:, 1].mean() < eye[:, 1].min()
            assert n[36:48, 1].max() < n[30, 1] < n[48:68, 1].min() < n[48:68, 1].max() < n[8, 1]
            # the subject's right eye, brow and ear are on the image's left
            assert n[36:42, 0].max() < n[27, 0] < n[42:48, 0].min()
            assert n[17:22, 0].max() < n[22:27, 0].min() and n[0, 0] < n[8, 0] < n[16, 0]
            # contours run in dlib order: jaw from the image-left ear round the chin (angles about the
            # nose tip fall from about pi to 0), nostrils left to right, eye corners outermost
            around_nose = np.unwrap(np.arctan2(jaw[:, 1] - n[30, 1], jaw[:, 0] - n[30, 0]))
            assert (np.diff(around_nose) < 0).all() and (np.diff(n[31:36, 0]) > 0).all()
            assert n[36, 0] < n[37, 0] < n[38, 0] < n[39, 0] and n[41, 0] < n[40, 0]
            assert n[42, 0] < n[43, 0] < n[44, 0] < n[45, 0] and n[47, 0] < n[46, 0]
            assert n[48, 0] < n[51, 0] < n[54, 0] and n[60, 0] < n[62, 0] < n[64, 0]
            assert n[51, 1] < n[62, 1] <= n[66, 1] < n[57, 1]


def test_upright_face_lands_where_the_pose_transform_puts_it() -> None:
    identity = upright(identities(1, seed=3)[0])
    size = 200
    _, lm = render_face(identity, "neutral", 0, size)
    centre_x = 0.5 * size - 0.5  # pixel centres at integers
    units = 0.56 * size  # pixels per canonical unit at scale 1
    assert lm[8, 0] == pytest.approx(centre_x, abs=1e-3)
    assert lm[0, 0] == pytest.approx(centre_x - units * identity.face_width, abs=1e-3)
    assert lm[16, 0] == pytest.approx(centre_x + units * identity.face_width, abs=1e-3)
    assert lm[8, 1] - lm[0, 1] == pytest.approx(units * (identity.chin - identity.jaw_top), abs=1e-3)
    # a square face is mirror-symmetric: pairs of points mirror about the midline
    mirror = [(0, 16), (4, 12), (17, 26), (21, 22), (31, 35), (48, 54), (60, 64), (50, 52), (58, 56)]
    for a, b in mirror:
        assert lm[a, 0] + lm[b, 0] == pytest.approx(2 * centre_x, abs=1e-3)
        assert lm[a, 1] == pytest.approx(lm[b, 1], abs=1e-3)


def test_landmarks_sit_on_the_drawn_contours() -> None:
    identity = upright(identities(1, seed=5)[0])
    image, lm = render_face(identity, "surprise", 4, 256)
    skin = np.asarray(identity.skin, dtype=float)
    for k in (37, 38, 43, 44):  # on the dark upper-lid line: the 2x2 pixels around the point hold it
        (x0, y0), (x1, y1) = np.floor(lm[k]).astype(int), np.ceil(lm[k]).astype(int)
        assert image[y0:y1 + 1, x0:x1 + 1].mean(-1).min() < 0.6 * skin.mean()
    for outer, inner in ((51, 62), (57, 66)):  # half-way between outer and inner lip contours: lips
        y, x = np.round(lm[[outer, inner]].mean(0)).astype(int)[::-1]
        assert np.abs(image[y, x] - np.asarray(identity.lips, float)).max() < 25
    inside_mouth = image[int(round(lm[[62, 66], 1].mean())), int(round(lm[[62, 66], 0].mean()))].astype(float)
    mouth_colours = np.array([MOUTH_COLOUR, TONGUE_COLOUR, UPPER_TEETH_COLOUR, LOWER_TEETH_COLOUR], float)
    assert np.abs(mouth_colours - inside_mouth).max(1).min() < 12
    for k in range(68):  # no landmark falls on the background
        y, x = np.round(lm[k]).astype(int)[::-1]
        background = np.asarray(identity.background_top, float) + (y / 255) * (
            np.asarray(identity.background_bottom, float) - identity.background_top)
        assert np.abs(image[y, x] - background).max() > 6, k


def test_rendering_is_deterministic_and_seeds_differ() -> None:
    a, b, c = identities(1, 7)[0], identities(1, 7)[0], identities(1, 8)[0]
    assert a == b and a != c
    ia, la = render_face(a, "fear", 3, 128)
    ib, lb = render_face(b, "fear", 3, 128)
    ic, _ = render_face(c, "fear", 3, 128)
    assert ia.tobytes() == ib.tobytes() and la.tobytes() == lb.tobytes()
    assert np.abs(ia.astype(int) - ic).mean() > 10


def test_identities_differ(faces: list[FaceIdentity]) -> None:
    rendered = [render_face(f, "neutral", 0, 64) for f in faces]
    shapes = np.stack([normalised(lm) for _, lm in rendered])
    images = np.stack([im for im, _ in rendered]).astype(float)
    for i in range(len(faces)):
        for j in range(i + 1, len(faces)):
            assert np.abs(shapes[i] - shapes[j]).mean() > 0.005
            assert np.abs(images[i] - images[j]).mean() > 10
    assert len({f.hair_style for f in identities(60)}) >= 5
    assert len({f.skin for f in identities(60)}) == 60


def geometry(lm: np.ndarray) -> dict[str, float]:
    """Expression measures in eye-distance units (y grows downwards, so "raise" is minus y)."""
    n = normalised(lm)
    mouth_centre_y = n[[51, 57], 1].mean()
    eyes_y = n[36:48, 1].mean()
    return {
        "mouth_open": n[66, 1] - n[62, 1],
        "corner_lift": mouth_centre_y - n[[48, 54], 1].mean(),
        "corner_asymmetry": abs(n[48, 1] - n[54, 1]),
        "mouth_width": n[54, 0] - n[48, 0],
        "brow_height": eyes_y - n[17:27, 1].mean(),
        "inner_brow_height": eyes_y - n[[21, 22], 1].mean() - (eyes_y - n[[17, 26], 1].mean()),
        "eye_open": (n[[41, 40, 47, 46], 1] - n[[37, 38, 43, 44], 1]).mean(),
        "nose_length": n[[31, 35], 1].mean() - n[[0, 16], 1].mean(),
    }


def test_expressions_change_the_face_where_real_ones_do(faces: list[FaceIdentity]) -> None:
    for identity in faces:
        g = {e: geometry(render_face(identity, e, level(e), 64)[1]) for e in EXPRESSIONS}
        ne = g["neutral"]
        assert g["surprise"]["mouth_open"] > ne["mouth_open"] + 0.2
        assert g["fear"]["mouth_open"] > ne["mouth_open"] + 0.05
        assert g["happy"]["corner_lift"] > ne["corner_lift"] + 0.05 > g["sad"]["corner_lift"] + 0.1
        assert g["surprise"]["brow_height"] > ne["brow_height"] + 0.1 > g["angry"]["brow_height"] + 0.15
        assert g["sad"]["inner_brow_height"] > ne["inner_brow_height"] + 0.05
        assert g["angry"]["inner_brow_height"] < ne["inner_brow_height"] - 0.02
        assert g["surprise"]["eye_open"] > ne["eye_open"] * 1.3
        assert g["fear"]["eye_open"] > ne["eye_open"] * 1.2
        for narrowed in ("happy", "angry", "disgust"):
            assert g[narrowed]["eye_open"] < ne["eye_open"] * 0.85
        assert g["disgust"]["nose_length"] < ne["nose_length"] - 0.02
        assert g["fear"]["mouth_width"] > ne["mouth_width"] > g["surprise"]["mouth_width"]
        assert g["contempt"]["corner_asymmetry"] > ne["corner_asymmetry"] + 0.05
        assert g["happy"]["corner_asymmetry"] < 0.02


def test_expressions_change_the_pixels(faces: list[FaceIdentity]) -> None:
    for identity in faces[:4]:
        images = {e: render_face(identity, e, level(e), 128)[0].astype(float) for e in EXPRESSIONS}
        for a in EXPRESSIONS:
            for b in EXPRESSIONS:
                if a < b:
                    changed = (np.abs(images[a] - images[b]).max(-1) > 30).mean()
                    # contempt lifts one mouth corner only: subtle, as in real faces
                    least = 0.001 if "contempt" in (a, b) else 0.003  # 16 or 49 strongly changed pixels
                    assert changed > least, (a, b, changed)


def test_stronger_intensity_deforms_more(faces: list[FaceIdentity]) -> None:
    for identity in faces[:6]:
        neutral = normalised(render_face(identity, "neutral", 0, 64)[1])
        for expression in EXPRESSIONS[1:]:
            moved = [np.linalg.norm(normalised(render_face(identity, expression, i, 64)[1]) - neutral)
                     for i in (1, 2, 3, 4)]
            assert all(b > a * 1.08 for a, b in zip(moved, moved[1:])), (expression, moved)
            assert moved[0] > 0.05


def test_classifier_on_landmarks_recognises_held_out_identities() -> None:
    """Softmax regression on normalised landmarks, trained on 24 subjects, tested on 10 others."""
    people = identities(34, seed=11)
    features, labels = [], []
    for identity in people:
        for k, expression in enumerate(BASIC_EXPRESSIONS):
            for i in ([0] if expression == "neutral" else [2, 4]):
                features.append(normalised(render_face(identity, expression, i, 64)[1]).ravel())
                labels.append(k)
    x, y = np.asarray(features), np.asarray(labels)
    per_person = len(x) // len(people)
    train = np.arange(len(x)) < 24 * per_person
    mean, std = x[train].mean(0), x[train].std(0) + 1e-6
    x = (x - mean) / std
    w, b = np.zeros((x.shape[1], 7)), np.zeros(7)
    onehot = np.eye(7)[y[train]]
    for _ in range(400):
        z = x[train] @ w + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        grad = (p - onehot) / train.sum()
        w -= 0.5 * (x[train].T @ grad + 1e-3 * w)
        b -= 0.5 * grad.sum(0)
    accuracy = (np.argmax(x[~train] @ w + b, 1) == y[~train]).mean()
    assert accuracy >= 0.9  # chance is 1/7


def test_sizes_scale_the_same_face() -> None:
    identity = identities(1, seed=2)[0]
    small_image, small = render_face(identity, "happy", 4, 64)
    large_image, large = render_face(identity, "happy", 4, 256)
    assert small_image.shape == (64, 64, 3) and large_image.shape == (256, 256, 3)
    np.testing.assert_allclose(large, (small + 0.5) * 4 - 0.5, atol=1e-3)
    downsized = large_image.astype(float).reshape(64, 4, 64, 4, 3).mean((1, 3))
    assert np.abs(downsized - small_image).mean() < 4


def test_synthesized_dataset_round_trips(tmp_path) -> None:
    samples = synthesize_dataset(tmp_path, num_identities=3, size=64, seed=4, intensities=(1, 4),
                                 test_fraction=0.34)
    assert len(samples) == 3 * (1 + 6 * 2)
    assert [s.to_json() for s in read_manifest(tmp_path)] == [s.to_json() for s in samples]
    subjects = {s.subject for s in samples}
    assert subjects == {"syn0000", "syn0001", "syn0002"}
    test_subjects = {s.subject for s in samples if s.split == "test"}
    assert len(test_subjects) == 1 and not test_subjects & {s.subject for s in samples if s.split == "train"}
    assert {(s.expression, s.intensity) for s in samples if s.subject == "syn0001"} == (
        {("neutral", 0)} | {(e, i) for e in BASIC_EXPRESSIONS[1:] for i in (1, 4)})
    assert all(s.view == "" for s in samples)
    people = identities(3, seed=4)
    for s in samples[:: 5]:
        image, lm = render_face(people[int(s.subject[3:])], s.expression, s.intensity, 64)
        np.testing.assert_array_equal(load_image(tmp_path / s.image), image)
        np.testing.assert_allclose(s.landmarks, lm, atol=1e-3)
    manifest = (tmp_path / "manifest.jsonl").read_bytes()
    again = synthesize_dataset(tmp_path / "again", num_identities=3, size=64, seed=4, intensities=(1, 4),
                               test_fraction=0.34)
    assert (tmp_path / "again" / "manifest.jsonl").read_bytes() == manifest
    assert all((tmp_path / s.image).read_bytes() == (tmp_path / "again" / s.image).read_bytes() for s in again)
    other = synthesize_dataset(tmp_path / "other", num_identities=3, size=64, seed=5, intensities=(1,))
    digest = lambda root, s: hashlib.sha256((root / s.image).read_bytes()).hexdigest()  # noqa: E731
    assert digest(tmp_path, samples[0]) != digest(tmp_path / "other", other[0])


def test_cli_synthesize(tmp_path, capsys) -> None:
    out = tmp_path / "syn"
    code = main(["synthesize", str(out), "--identities", "2", "--size", "64", "--seed", "1",
                 "--contempt", "--intensities", "3", "--test-fraction", "0.5"])
    assert code == 0
    printed = capsys.readouterr().out.strip()
    assert printed.count("\n") == 0 and "16 images" in printed and str(out) in printed
    samples = read_manifest(out)
    assert len(samples) == 2 * 8 and {s.expression for s in samples} == set(EXPRESSIONS)
    assert {s.split for s in samples} == {"train", "test"}
    assert all((out / s.image).is_file() for s in samples)

    assert main(["synthesize", str(tmp_path / "bad"), "--intensities", "5"]) == 2
    assert "intensities" in capsys.readouterr().err


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda f: render_face(f, "bored", 2, 64), "unknown expression"),
        (lambda f: render_face(f, "neutral", 2, 64), "intensity 0"),
        (lambda f: render_face(f, "happy", 0, 64), "1, 2, 3 or 4"),
        (lambda f: render_face(f, "happy", 5, 64), "1, 2, 3 or 4"),
        (lambda f: render_face(f, "happy", 2, 16), "image size"),
        (lambda f: synthesize_dataset("/nonexistent/never", num_identities=0), "positive integer"),
        (lambda f: synthesize_dataset("/nonexistent/never", num_identities=1, test_fraction=0.5), "no training"),
        (lambda f: synthesize_dataset("/nonexistent/never", test_fraction=1.0), "test fraction"),
        (lambda f: synthesize_dataset("/nonexistent/never", expressions=("happy", "smug")), "unknown expression"),
    ],
)
def test_bad_input_is_reported(call, message: str) -> None:
    with pytest.raises(LandmarkGANError, match=message):
        call(identities(1)[0])
