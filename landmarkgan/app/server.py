"""A small FastAPI app around the translation pipeline; ``landmarkgan serve`` runs it with uvicorn.

Routes: ``/`` the page, ``/api/info`` what the model knows and the bundled sample faces,
``/api/samples/{name}`` a sample face, ``POST /api/photo`` (form fields: ``file`` or ``sample``, ``align``,
``detector``) which finds the faces of a photo, keeps it in memory (with stage I's displacements of each face and a
copy at the size the page shows it) and answers with its key, a preview and the faces' boxes;
``POST /api/translate`` (form fields: ``photo`` (a key) or ``file`` / ``sample`` (``align``, ``detector``),
``expression``, ``intensity``, ``faces``, ``refinement``, ``all``, and the controls ``regions``, ``like``,
``moves``) returning the whole translated photo (in the upload's format, at its size) and each face's crops as data
URLs, and every face's landmarks; ``POST /api/edit`` (a kept photo's key and the same controls) returning a live
edit: the photo at most ``LIVE_SIDE`` pixels large with the faces pasted in, and their target landmarks, without
finding the faces or running stage I again; ``POST /api/like`` (``file`` or ``sample``, ``align``, ``detector``)
returning the expression of a photo's largest face, for the ``like`` field (the photo is not kept). The controls'
fields are described in :mod:`landmarkgan.app.controls`.

Every error is ``{"error": message}``: 400 for a bad field, image or face, 404 for an unknown
address, 410 for a photo key that has expired, 413 for an upload of too many bytes or pixels, 422 for a request
that is not the form, 503 while the server is busy. The server keeps serving.

Memory stays bounded: one request at a time decodes and translates (the model and dlib are
shared, and a decoded photo is the peak of a request), at most ``WAITING`` more wait their turn and
later ones are turned away; uploads are refused from their header above ``MAX_PIXELS``; the photos kept between
requests are bounded in count, bytes and idle time (:mod:`landmarkgan.app.store`).
"""

from __future__ import annotations

import base64
import ctypes
import io
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from PIL import Image
from starlette.exceptions import HTTPException

from landmarkgan.app.controls import FormControls, form_controls
from landmarkgan.app.store import PhotoExpired, PhotoStore, StoredPhoto
from landmarkgan.assets import asset_path
from landmarkgan.data.images import ImageTooLarge, decode_image, load_image, photo_suffix, shrink
from landmarkgan.errors import LandmarkGANError, quoted
from landmarkgan.inference.control import MAX_INTENSITY, MAX_REGION, MAX_STRENGTH, REGIONS
from landmarkgan.inference.photo import offsets_in_frame
from landmarkgan.inference.pipeline import DEFAULT_INTENSITY, LandmarkGANPipeline
from landmarkgan.inference.results import PhotoTranslation, Translation
from landmarkgan.inference.sheets import photo_sheet, photo_tile
from landmarkgan.landmarks.detector import DETECTORS

MAX_UPLOAD_BYTES = 20 * 2**20
MAX_PIXELS = 24_000_000  # an upload's pixel budget (a 6000 x 4000 photo), below the 50 Mpx of files
WAITING = 8  # requests that may wait for the translation slot; more are answered 503
PREVIEW_SIDE = 1600  # a photo's preview on the page is at most this large (its results come at full size)
LIVE_SIDE = 800  # a live edit comes back at most this large: the size the page shows a photo at
LIVE_QUALITY = 85  # ... as a JPEG of this quality
STATIC = Path(__file__).resolve().parent / "static"
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters
MMAP_THRESHOLD = 16 * 2**20  # blocks this large (a decoded photo of 5.6 Mpx or more) go back to the system when freed
TRIM_THRESHOLD = 64 * 2**20  # a heap keeps at most this much free memory at its top
ARENAS = 2
_FLAGS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


@dataclass(frozen=True)
class SampleFace:
    """A bundled face: its file and whether it is a photo to align (else an aligned crop)."""

    name: str
    path: Path
    align: bool


def translation_answer(result: PhotoTranslation, stored: StoredPhoto, refinement: float, numbers: list[int]) -> dict:
    """The page's answer for one translation: the whole photo, each face's crops, the landmarks and names
    (``numbers``: the faces' numbers in the photo)."""
    name = result_name(stored.name, result.name)
    return {
        "expression": result.expression, "intensity": result.intensity, "label": result.label,
        "refinement": refinement, "name": name, "suffix": stored.suffix,
        "image": data_url(result.photo, stored.suffix),
        "faces": [{"number": number, "box": list(face.box) if face.box else None, "input": data_url(face.source),
                   "landmark_image": data_url(face.landmark_image), "overlay": data_url(face.overlay()),
                   "image": data_url(face.image), "landmarks": _in_photo(face)}
                  for number, face in zip(numbers, result.faces)],
        "landmarks": result.to_json(),
        "skipped": result.skipped,
    }


def edit_answer(result: PhotoTranslation, stored: StoredPhoto, numbers: list[int]) -> dict:
    """The page's answer for one live edit: the photo at the size it is shown with the faces pasted in (a JPEG),
    and each face's target landmarks in the photo's pixels."""
    return {"label": result.label, "image": data_url(result.render_photo(onto=stored.live), ".jpg", quality=LIVE_QUALITY),
            "faces": [{"number": number, "landmarks": _in_photo(face)} for number, face in zip(numbers, result.faces)]}


def _in_photo(face: Translation) -> list:
    return np.round(face.landmarks_in_photo(), 1).tolist()


def _width(box: tuple[int, int, int, int] | None) -> int:
    return 0 if box is None else box[2] - box[0]


class Busy(Exception):
    """Every place in the queue is taken."""


class Admission:
    """One request at a time holds the slot; up to ``waiting`` more wait for it, later ones get :class:`Busy`."""

    def __init__(self, waiting: int) -> None:
        self.limit = waiting + 1
        self._slot = threading.Lock()
        self._count = threading.Lock()
        self._admitted = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._count:
            if self._admitted >= self.limit:
                raise Busy
            self._admitted += 1
        try:
            with self._slot:
                yield
        finally:
            with self._count:
                self._admitted -= 1


def bundled_samples() -> list[SampleFace]:
    """The sample faces shipped in ``landmarkgan/assets/faces``, by name; photos are aligned, synthetic crops not."""
    folder = asset_path("faces")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    return [SampleFace(p.name, p, align=not p.name.startswith("synthetic")) for p in files]


def data_url(image: np.ndarray, suffix: str = ".png", side: int | None = None, quality: int = 95) -> str:
    """An RGB uint8 image as a data URL: JPEG (by default at quality 95 without chroma subsampling, as files are
    written) for ".jpg", else PNG; scaled down to at most ``side`` pixels when given."""
    pil = Image.fromarray(np.ascontiguousarray(image))
    if side and max(pil.size) > side:
        pil.thumbnail((side, side), Image.Resampling.BOX)
    buffer = io.BytesIO()
    if suffix == ".jpg":
        pil.save(buffer, format="JPEG", quality=quality, subsampling=0 if quality >= 95 else 2)
        return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
    pil.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def form_faces(value: str) -> str | list[int]:
    """The faces form field: empty or "all" for every face, "largest", or face numbers such as 0,2."""
    text = value.strip().lower()
    if text in ("", "all", "largest"):
        return text or "all"
    if not re.fullmatch(r"[0-9]{1,3}(,[0-9]{1,3}){0,63}", text):
        raise LandmarkGANError(f"faces must be all, largest or face numbers such as 0,2, got {quoted(value)}")
    return [int(k) for k in text.split(",")]


def result_name(name: str, label: str) -> str:
    """A download's file name (without suffix) from the photo's name and the label: "me_happy4"."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "photo"
    return f"{safe[:80]}_{label.replace(' ', '')}"


def form_flag(name: str, value: str) -> bool:
    """A true/false form field (also 1/0, yes/no, on/off)."""
    flag = _FLAGS.get(value.strip().lower())
    if flag is None:
        raise LandmarkGANError(f"{name} must be true or false, got {quoted(value)}")
    return flag


def form_refinement(value: str) -> float | None:
    """The refinement form field: empty for the server's own strength, else a decimal number (its range is the
    pipeline's check)."""
    text = value.strip()
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,6})?", text):
        raise LandmarkGANError(f"refinement must be a number from 0 (the warp alone) to 1 (the model as trained), "
                               f"such as 0.5, got {quoted(value)}")
    return float(text)


def return_large_blocks() -> None:
    """Make glibc's malloc give blocks of ``MMAP_THRESHOLD`` or more back to the system as soon as they are freed,
    and bound what its heaps keep.

    By default glibc raises its mmap threshold after the first large free, so later decoded photos land
    in per-thread heaps that keep their pages, and the server would stay at its peak memory for good. A fixed
    threshold keeps decoded photos out of the heaps; it is not lower, since every block above it costs fresh pages
    (a live edit's tensors of a few MB took twice as long at 1 MB). The heaps are at most ``ARENAS`` (one request
    runs at a time) and keep at most ``TRIM_THRESHOLD`` of free memory at their top. Elsewhere (another C library)
    nothing is changed.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    libc.mallopt(M_ARENA_MAX, ARENAS)


def create_app(pipe: LandmarkGANPipeline, waiting: int = WAITING, store: PhotoStore | None = None) -> FastAPI:
    return_large_blocks()
    app = FastAPI(title="LandmarkGAN", docs_url=None, redoc_url=None, openapi_url=None)
    samples = {s.name: s for s in bundled_samples()}
    pipes = {kind: pipe.with_detector(kind) for kind in DETECTORS}
    admission = Admission(waiting)
    photos = store if store is not None else PhotoStore()  # (an empty store is falsy: it has a length)

    def error(message: str, status: int = 400, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    def detector_pipe(detector: str) -> LandmarkGANPipeline:
        if detector and detector not in pipes:
            raise LandmarkGANError(f"detector must be one of {', '.join(DETECTORS)}, got {quoted(detector)}")
        return pipes[detector] if detector else pipe

    def read_image(file: UploadFile | None, sample: str, align: str) -> tuple[np.ndarray, str, bool]:
        """An upload or a sample decoded (inside the admission slot): its pixels, its name, whether to align it."""
        do_align = form_flag("align", align)
        uploaded = file is not None and bool(file.filename)
        if not uploaded and not sample:
            raise LandmarkGANError("no face given: upload an image or pick a sample face")
        if not uploaded and sample not in samples:
            raise LandmarkGANError(f"no sample face {quoted(sample)}; pick one from the list")
        if uploaded:
            data = file.file.read(MAX_UPLOAD_BYTES + 1)
            if len(data) > MAX_UPLOAD_BYTES:
                raise ImageTooLarge(f"the upload is larger than {MAX_UPLOAD_BYTES // 2**20} MB; send a smaller image")
            return decode_image(data, quoted(file.filename), MAX_PIXELS), file.filename, do_align
        return load_image(samples[sample].path), sample, samples[sample].align

    def read_photo(file: UploadFile | None, sample: str, align: str, detector: str, keep: bool = False) -> StoredPhoto:
        """Decode an upload or a sample and find its faces (inside the admission slot); to ``keep`` it for edits,
        also stage I's displacements of each face and the photo at the size edits are shown."""
        chosen = detector_pipe(detector)
        image, name, do_align = read_image(file, sample, align)
        found = chosen.find_faces(image, align=do_align, faces="all", what=quoted(name))
        stored = StoredPhoto(found, Path(name).stem, photo_suffix(name), chosen.detector_name)
        if keep and chosen.task == "expression":
            stored.displacements = chosen.displacements(found)
            stored.live = shrink(found.pixels, LIVE_SIDE)[0]
        arrays = [found.pixels, *(f.face for f in found.faces), *(d.moves for d in stored.displacements or [])]
        if stored.live is not None and stored.live is not found.pixels:
            arrays.append(stored.live)
        stored.nbytes = sum(a.nbytes for a in arrays)
        return stored

    def face_numbers(stored: StoredPhoto, which: str | list[int]) -> list[int]:
        """The numbers of the faces asked for ("all", "largest" or numbers), checked against the photo's."""
        faces = stored.faces.faces
        if which == "all":
            return list(range(len(faces)))
        if which == "largest":
            return [max(range(len(faces)), key=lambda k: _width(faces[k].box))]
        stored.faces.chosen(which)  # the check, with its message
        return sorted(set(which))

    def render(chosen: LandmarkGANPipeline, stored: StoredPhoto, numbers: list[int], controls: FormControls,
               live: bool = False) -> PhotoTranslation:
        """The chosen faces translated as the controls say: one label the model learned through both stages (unless
        ``live``), anything else as a control on stage I's displacements, kept with the photo when it was."""
        found = stored.faces if len(numbers) == len(stored.faces.faces) else stored.faces.chosen(numbers)
        label = None if controls.beyond_labels or live else chosen.trained_label(controls.expression,
                                                                                  controls.intensity)
        if label is not None:
            return chosen.translate_found(found, [label])[0]
        outside = [k for k in controls.moves if k >= len(stored.faces.faces)]
        if outside:
            raise LandmarkGANError(f"moves name face {outside[0]}, but the photo has {len(stored.faces.faces)} face(s)")
        control = chosen.control(controls.expression, controls.intensity, controls.regions, controls.like)
        kept = None if stored.displacements is None else [stored.displacements[k] for k in numbers]
        shifts = [offsets_in_frame(stored.faces.faces[k].matrix, controls.moves.get(k)) for k in numbers]
        return chosen.render_control(found, control, kept, shifts)

    def answer(fn):
        """Run ``fn`` in the admission slot, turning the errors a user can cause into JSON answers."""
        try:
            with admission.turn():
                return fn()
        except ImageTooLarge as e:
            return error(str(e), 413)
        except PhotoExpired as e:
            return error(str(e), 410)
        except LandmarkGANError as e:
            return error(str(e))
        except Busy:
            return error(f"the server is busy ({admission.limit} requests are in hand); try again in a moment", 503,
                         {"Retry-After": "2"})

    @app.middleware("http")
    async def refuse_large_bodies(request: Request, call_next):
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_UPLOAD_BYTES + 2**16:  # the upload and the other fields
            async for _ in request.stream():  # read and drop it (neither kept nor spooled), so the client hears us
                pass
            return error(f"the upload is larger than {MAX_UPLOAD_BYTES // 2**20} MB; send a smaller image", 413)
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return (STATIC / "index.html").read_text(encoding="utf-8")

    @app.get("/api/info")
    def info() -> dict:
        levels = bool(pipe.intensities)
        return {"expressions": pipe.expressions, "intensities": pipe.intensities, "image_size": pipe.image_size,
                "intensity": {"top": MAX_INTENSITY if levels else MAX_STRENGTH, "default": DEFAULT_INTENSITY if levels
                              else 1.0, "like_top": MAX_STRENGTH},
                "regions": {"names": list(REGIONS), "top": MAX_REGION},
                "samples": [{"name": s.name, "align": s.align} for s in samples.values()],
                "detectors": list(DETECTORS), "detector": pipe.detector_name,
                "refinement": pipe.refinement if pipe.model.config.generator == "warp" else None,
                "model": pipe.model.metadata.get("description", "")}

    @app.get("/api/samples/{name}")
    def sample(name: str):
        if name not in samples:
            return error(f"no sample face {quoted(name)}", 404)
        return FileResponse(samples[name].path)

    @app.post("/api/photo")
    def photo(sample: str = Form(""), align: str = Form("true"), detector: str = Form(""),
              file: UploadFile | None = None):
        def run() -> dict:
            stored = read_photo(file, sample, align, detector, keep=True)
            key = photos.add(stored)
            height, width = stored.faces.pixels.shape[:2]
            return {"photo": key, "name": stored.name, "width": width, "height": height,
                    "preview": data_url(stored.faces.pixels, ".jpg", PREVIEW_SIDE),
                    "faces": [{"box": list(f.box) if f.box else [0, 0, width, height]} for f in stored.faces.faces],
                    "skipped": stored.faces.skipped}

        return answer(run)

    @app.post("/api/translate")
    def translate(
        expression: str = Form(""),
        intensity: str = Form(""),
        align: str = Form("true"),
        all: str = Form("false"),  # noqa: A002 (the form field's name)
        sample: str = Form(""),
        detector: str = Form(""),
        refinement: str = Form(""),
        faces: str = Form(""),
        photo: str = Form(""),
        regions: str = Form(""),
        like: str = Form(""),
        moves: str = Form(""),
        file: UploadFile | None = None,
    ):
        def run() -> dict:
            every = form_flag("all", all)
            controls = form_controls(expression, intensity, regions, like, moves, pipe.image_size)
            chosen = refined(detector_pipe(detector), refinement)
            which = form_faces(faces)
            if every and controls.beyond_labels:
                raise LandmarkGANError("every expression is made at the levels the model learned; leave out regions, "
                                       "like and moves")
            if not every:
                require_target(controls)
            stored = photos.get(photo) if photo else read_photo(file, sample, align, detector)
            numbers = face_numbers(stored, which)
            if every:
                found = stored.faces.chosen(numbers)
                results = chosen.translate_found(found, chosen.labels())
                first = results[0]
                tiles = [(r, photo_tile(r.render_photo(), r)) for r in results]
                sheet = photo_sheet(photo_tile(first.original, first), tiles, pipe.expressions, pipe.intensities)
                return {"sheet": data_url(sheet, ".jpg"), "name": result_name(stored.name, "all")}
            result = render(chosen, stored, numbers, controls)
            return translation_answer(result, stored, chosen.refinement, numbers)

        return answer(run)

    @app.post("/api/edit")
    def edit(
        photo: str = Form(""),
        expression: str = Form(""),
        intensity: str = Form(""),
        regions: str = Form(""),
        like: str = Form(""),
        moves: str = Form(""),
        faces: str = Form(""),
        refinement: str = Form(""),
    ):
        def run() -> dict:
            controls = form_controls(expression, intensity, regions, like, moves, pipe.image_size)
            chosen = refined(pipe, refinement)
            which = form_faces(faces)
            require_target(controls)
            if not photo:
                raise LandmarkGANError("an edit needs the photo's key from /api/photo: upload the photo first")
            stored = photos.get(photo)
            if stored.live is None:
                raise LandmarkGANError(f"this model restores faces ({pipe.task}); it has no expressions to edit")
            numbers = face_numbers(stored, which)
            return edit_answer(render(chosen, stored, numbers, controls, live=True), stored, numbers)

        return answer(run)

    @app.post("/api/like")
    def like_photo(sample: str = Form(""), align: str = Form("true"), detector: str = Form(""),
                   file: UploadFile | None = None):
        def run() -> dict:
            chosen = detector_pipe(detector)
            image, name, do_align = read_image(file, sample, align)
            found = chosen.find_faces(image, align=do_align, faces="largest", what=quoted(name))
            face = chosen.displacements(found)[0]
            expression, level = face.nearest_label(np.zeros_like(face.source))
            return {"expression": np.round(face.expression, 3).tolist(), "name": Path(name).stem,
                    "label": f"{expression} {level}" if level else expression, "face": data_url(found.faces[0].face)}

        return answer(run)

    def refined(chosen: LandmarkGANPipeline, refinement: str) -> LandmarkGANPipeline:
        strength = form_refinement(refinement)
        return chosen if strength is None else chosen.with_refinement(strength)

    def require_target(controls: FormControls) -> None:
        if controls.expression is None and controls.like is None:
            raise LandmarkGANError(f"no expression given; choose one of {', '.join(pipe.expressions)}")

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> JSONResponse:  # noqa: ARG001 (the handler signature)
        return error(str(exc.detail), exc.status_code, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    def invalid_form(request: Request, exc: RequestValidationError) -> JSONResponse:  # noqa: ARG001
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'the request'}: {e.get('msg', '')}"
                             for e in exc.errors()[:3])
        return error(f"the request is not the translation form ({problems[:300]})", 422)

    @app.exception_handler(Exception)
    def unexpected(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
        return error(f"internal error ({type(exc).__name__}); the server keeps running", 500)

    return app

