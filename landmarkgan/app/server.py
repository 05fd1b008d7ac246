"""A small FastAPI app around the translation pipeline; ``landmarkgan serve`` runs it with uvicorn.

Routes: ``/`` the page, ``/api/info`` what the model knows and the bundled sample faces,
``/api/samples/{name}`` a sample face, ``POST /api/translate`` (form fields: ``file`` or ``sample``,
``expression``, ``intensity``, ``align``, ``all``, ``detector``, ``refinement``) returning the input, landmark image,
overlay and translated face as PNG data URLs and the 68 landmarks.

Every error is ``{"error": message}``: 400 for a bad field, image or face, 404 for an unknown
address, 413 for an upload of too many bytes or pixels, 422 for a request that is not the form,
503 while the server is busy. The server keeps serving.

Memory stays bounded: one request at a time decodes and translates (the model and dlib are
shared, and a decoded photo is the peak of a request), at most ``WAITING`` more wait their turn and
later ones are turned away; uploads are refused from their header above ``MAX_PIXELS``.
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

from landmarkgan.assets import asset_path
from landmarkgan.data.images import ImageTooLarge, decode_image, load_image
from landmarkgan.errors import LandmarkGANError, quoted
from landmarkgan.inference.pipeline import LandmarkGANPipeline
from landmarkgan.inference.sheets import translation_sheet
from landmarkgan.landmarks.detector import DETECTORS

MAX_UPLOAD_BYTES = 20 * 2**20
MAX_PIXELS = 24_000_000  # an upload's pixel budget (a 6000 x 4000 photo), below the 50 Mpx of files
WAITING = 8  # requests that may wait for the translation slot; more are answered 503
STATIC = Path(__file__).resolve().parent / "static"
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
_FLAGS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


@dataclass(frozen=True)
class SampleFace:
    """A bundled face: its file and whether it is a photo to align (else an aligned crop)."""

    name: str
    path: Path
    align: bool


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


def png_data_url(image: np.ndarray, size: int | None = None) -> str:
    """An RGB uint8 image as a PNG data URL (nearest-neighbour upscaled to ``size`` for display)."""
    pil = Image.fromarray(np.ascontiguousarray(image))
    if size and pil.width < size:
        pil = pil.resize((size, size), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def form_flag(name: str, value: str) -> bool:
    """A true/false form field (also 1/0, yes/no, on/off)."""
    flag = _FLAGS.get(value.strip().lower())
    if flag is None:
        raise LandmarkGANError(f"{name} must be true or false, got {quoted(value)}")
    return flag


def form_intensity(value: str, levels: list[int]) -> int | None:
    """The intensity form field: empty for the default, else a whole number (its range is the pipeline's check)."""
    text = value.strip()
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,3}", text):
        allowed = f" ({levels[0]}..{levels[-1]})" if levels else ""
        raise LandmarkGANError(f"intensity must be a whole number such as 3{allowed}, got {quoted(value)}")
    return int(text)


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
    """Make glibc's malloc give blocks of 1 MB or more back to the system as soon as they are freed.

    By default glibc raises its mmap threshold after the first large free, so later decoded photos land
    in per-thread heaps that keep their pages, and the server would stay at its peak memory for good.
    Elsewhere (another C library) nothing is changed.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(M_MMAP_THRESHOLD, 2**20)


def create_app(pipe: LandmarkGANPipeline, waiting: int = WAITING) -> FastAPI:
    return_large_blocks()
    app = FastAPI(title="LandmarkGAN", docs_url=None, redoc_url=None, openapi_url=None)
    samples = {s.name: s for s in bundled_samples()}
    pipes = {kind: pipe.with_detector(kind) for kind in DETECTORS}
    admission = Admission(waiting)
    display = max(256, pipe.image_size)

    def error(message: str, status: int = 400, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

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
        return {"expressions": pipe.expressions, "intensities": pipe.intensities, "image_size": pipe.image_size,
                "samples": [{"name": s.name, "align": s.align} for s in samples.values()],
                "detectors": list(DETECTORS), "detector": pipe.detector_name,
                "refinement": pipe.refinement if pipe.model.config.generator == "warp" else None,
                "model": pipe.model.metadata.get("description", "")}

    @app.get("/api/samples/{name}")
    def sample(name: str):
        if name not in samples:
            return error(f"no sample face {quoted(name)}", 404)
        return FileResponse(samples[name].path)

    @app.post("/api/translate")
    def translate(
        expression: str = Form(""),
        intensity: str = Form(""),
        align: str = Form("true"),
        all: str = Form("false"),  # noqa: A002 (the form field's name)
        sample: str = Form(""),
        detector: str = Form(""),
        refinement: str = Form(""),
        file: UploadFile | None = None,
    ):
        try:
            every = form_flag("all", all)
            do_align = form_flag("align", align)
            level = form_intensity(intensity, pipe.intensities)
            if detector and detector not in pipes:
                raise LandmarkGANError(f"detector must be one of {', '.join(DETECTORS)}, got {quoted(detector)}")
            chosen = pipes[detector] if detector else pipe
            strength = form_refinement(refinement)
            if strength is not None:
                chosen = chosen.with_refinement(strength)
            if not every and not expression.strip():
                raise LandmarkGANError(f"no expression given; choose one of {', '.join(pipe.expressions)}")
            if not every:
                chosen.check_label(expression, level)  # a bad label fails before any image is decoded
            uploaded = file is not None and bool(file.filename)
            if not uploaded and not sample:
                raise LandmarkGANError("no face given: upload an image or pick a sample face")
            if not uploaded and sample not in samples:
                raise LandmarkGANError(f"no sample face {quoted(sample)}; pick one from the list")
            with admission.turn():
                if uploaded:
                    data = file.file.read(MAX_UPLOAD_BYTES + 1)
                    if len(data) > MAX_UPLOAD_BYTES:
                        return error(f"the upload is larger than {MAX_UPLOAD_BYTES // 2**20} MB; send a smaller image",
                                     413)
                    image = decode_image(data, quoted(file.filename), MAX_PIXELS)
                else:
                    image, do_align = load_image(samples[sample].path), samples[sample].align
                if every:
                    results = chosen.translate_all(image, align=do_align)
                    sheet = translation_sheet(results, pipe.expressions, pipe.intensities)
                    return {"sheet": png_data_url(sheet), "input": png_data_url(results[0].source, display)}
                result = chosen(image, expression, level, align=do_align)
                return {
                    "expression": result.expression, "intensity": result.intensity, "label": result.label,
                    "refinement": chosen.refinement,
                    "input": png_data_url(result.source, display),
                    "landmark_image": png_data_url(result.landmark_image, display),
                    "overlay": png_data_url(result.overlay(), display),
                    "image": png_data_url(result.image, display),
                    "image_png": png_data_url(result.image),
                    "landmarks": result.to_json(),
                }
        except ImageTooLarge as e:
            return error(str(e), 413)
        except LandmarkGANError as e:
            return error(str(e))
        except Busy:
            return error(f"the server is busy ({admission.limit} requests are in hand); try again in a moment", 503,
                         {"Retry-After": "2"})

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

