"""A small FastAPI app around the translation pipeline; ``landmarkgan serve`` runs it with uvicorn.

Routes: ``/`` the page, ``/api/info`` what the model knows and the bundled sample faces,
``/api/samples/{name}`` a sample face, ``POST /api/translate`` (form fields: ``file`` or ``sample``,
``expression``, ``intensity``, ``align``, ``all``) returning the input, landmark image, overlay and
translated face as PNG data URLs and the 68 landmarks. A bad request gets status 400 (413 for an
upload that is too large) and ``{"error": message}``; the server keeps serving.
"""

from __future__ import annotations

import base64
import io
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Form, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from PIL import Image

from landmarkgan.assets import asset_path
from landmarkgan.data.images import decode_image, load_image
from landmarkgan.errors import LandmarkGANError
from landmarkgan.inference.pipeline import LandmarkGANPipeline
from landmarkgan.inference.sheets import translation_sheet

MAX_UPLOAD_BYTES = 20 * 2**20
STATIC = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True)
class SampleFace:
    """A bundled face: its file and whether it is a photo to align (else an aligned crop)."""

    name: str
    path: Path
    align: bool


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


def create_app(pipe: LandmarkGANPipeline) -> FastAPI:
    app = FastAPI(title="LandmarkGAN", docs_url=None, redoc_url=None)
    samples = {s.name: s for s in bundled_samples()}
    lock = threading.Lock()  # one translation at a time: the model and dlib are shared
    display = max(256, pipe.image_size)

    def error(message: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return (STATIC / "index.html").read_text(encoding="utf-8")

    @app.get("/api/info")
    def info() -> dict:
        return {"expressions": pipe.expressions, "intensities": pipe.intensities, "image_size": pipe.image_size,
                "samples": [{"name": s.name, "align": s.align} for s in samples.values()],
                "model": pipe.model.metadata.get("description", "")}

    @app.get("/api/samples/{name}")
    def sample(name: str):
        if name not in samples:
            return error(f"no sample face {name!r}", 404)
        return FileResponse(samples[name].path)

    @app.post("/api/translate")
    def translate(
        expression: str = Form("happy"),
        intensity: str = Form(""),
        align: str = Form("true"),
        all: str = Form("false"),  # noqa: A002 (the form field's name)
        sample: str = Form(""),
        file: UploadFile | None = None,
    ):
        try:
            if file is not None and file.filename:
                data = file.file.read(MAX_UPLOAD_BYTES + 1)
                if len(data) > MAX_UPLOAD_BYTES:
                    return error(f"the upload is larger than {MAX_UPLOAD_BYTES // 2**20} MB; send a smaller image", 413)
                image, do_align = decode_image(data, repr(file.filename)), align == "true"
            elif sample:
                if sample not in samples:
                    return error(f"no sample face {sample!r}; pick one from the list")
                image, do_align = load_image(samples[sample].path), samples[sample].align
            else:
                return error("no face given: upload an image or pick a sample face")
            level = int(intensity) if intensity.strip() else None
            with lock:
                if all == "true":
                    results = pipe.translate_all(image, align=do_align)
                    sheet = translation_sheet(results, pipe.expressions, pipe.intensities)
                    return {"sheet": png_data_url(sheet), "input": png_data_url(results[0].source, display)}
                result = pipe(image, expression, level, align=do_align)
        except LandmarkGANError as e:
            return error(str(e))
        except ValueError:
            return error(f"intensity must be a whole number, got {intensity!r}")
        return {
            "expression": result.expression, "intensity": result.intensity, "label": result.label,
            "input": png_data_url(result.source, display),
            "landmark_image": png_data_url(result.landmark_image, display),
            "overlay": png_data_url(result.overlay(), display),
            "image": png_data_url(result.image, display),
            "image_png": png_data_url(result.image),
            "landmarks": result.to_json(),
        }

    @app.exception_handler(Exception)
    def unexpected(request, exc: Exception) -> JSONResponse:  # noqa: ARG001 (FastAPI's handler signature)
        return error(f"internal error ({type(exc).__name__}: {exc}); the server keeps running", 500)

    return app
