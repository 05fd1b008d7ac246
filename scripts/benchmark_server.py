"""Latency and memory of the web server under ordinary and hostile load (a benchmark, not a test).

Starts ``python -m landmarkgan serve`` as a subprocess and sends it, over HTTP:

* sequential requests from one client: the bundled photo (detect, align, translate), the bundled
  aligned crop (translate only) and an uploaded 512 x 512 photo;
* concurrent requests from ``--clients`` clients at once;
* ``--uploads`` concurrent decompression bombs (a PNG of a few hundred KB that decodes to
  ``--bomb-side`` squared pixels), then as many concurrent uploads of the largest photo the server
  decodes (``--large-side`` squared, a face in it);
* one ordinary request afterwards, to show the server still answers.

It prints latency percentiles, the status codes, and the server's resident memory: idle, the peak
of each phase (VmHWM, reset before the phase through /proc/PID/clear_refs) and the level after it.

    python scripts/benchmark_server.py                       # the built-in model (128 x 128)
    python scripts/benchmark_server.py --requests 10 --clients 2 --bomb-side 3000 --large-side 1500   # quick
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from landmarkgan.assets import asset_path

Request = tuple[dict[str, str], tuple[str, bytes] | None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, fields: dict[str, str], file: tuple[str, bytes] | None = None) -> tuple[int, float, bytes]:
    """A multipart/form-data POST; returns (status, seconds until the whole answer is read, the answer's bytes)."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    if file:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file[0]}"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + file[1] + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body,
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            answer, status = response.read(), response.status
    except urllib.error.HTTPError as e:
        answer, status = e.read(), e.code
    return status, time.perf_counter() - start, answer


class Server:
    """``landmarkgan serve`` in a subprocess (its torch on ``threads`` threads when given, with ``options`` such as
    ``["--detector", "hog"]``), with its memory read from /proc."""

    def __init__(self, model: str | None, threads: int | None = None, options: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
        command = [sys.executable, "-m", "landmarkgan", "serve", "--port", str(self.port), *options]
        self.process = subprocess.Popen(command + (["--model", model] if model else []), env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server did not start:\n{self.process.stderr.read()}")
            try:
                self.info = json.loads(urllib.request.urlopen(self.url + "/api/info", timeout=5).read())
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("the server did not answer within 120 s")

    def memory(self, field: str) -> float:
        """VmRSS (now) or VmHWM (peak since the last reset) of the server, in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no {field} in /proc/{self.process.pid}/status")

    def reset_peak(self) -> None:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def run_requests(server: Server, requests: list[Request], clients: int) -> tuple[list[float], Counter, float]:
    """Send ``requests`` from ``clients`` threads; (seconds of each 200 answer, status counts, wall seconds)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(lambda r: post(server.url + "/api/translate", *r), requests))
    wall = time.perf_counter() - start
    return [s for code, s, _ in answers if code == 200], Counter(code for code, _, _ in answers), wall


def percentiles(seconds: list[float]) -> str:
    if not seconds:
        return "no successful answers"
    ms = sorted(1000 * s for s in seconds)
    pick = lambda q: ms[min(len(ms) - 1, round(q * (len(ms) - 1)))]  # noqa: E731
    return f"p50 {statistics.median(ms):7.1f}  p90 {pick(0.9):7.1f}  p99 {pick(0.99):7.1f}  max {ms[-1]:7.1f} ms"


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    """The file bytes of ``image`` in ``fmt``."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def large_photo(side: int) -> bytes:
    """A JPEG of ``side`` x ``side`` pixels: the bundled photo's face in the middle of a grey canvas."""
    face = Image.open(asset_path("faces") / "astronaut.jpg").convert("RGB")
    canvas = Image.new("RGB", (side, side), (128, 128, 128))
    face = face.resize((side // 3, side // 3), Image.Resampling.BICUBIC)
    canvas.paste(face, (side // 3, side // 3))
    return encoded(canvas, "JPEG", quality=85)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model folder or training run (default: the built-in model)")
    parser.add_argument("--requests", type=int, default=60, help="requests per sequential and concurrent phase")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--uploads", type=int, default=8, help="concurrent hostile uploads")
    parser.add_argument("--bomb-side", type=int, default=7000, help="side of the decompression bomb PNG")
    parser.add_argument("--large-side", type=int, default=4800, help="side of the largest photo uploaded")
    args = parser.parse_args()

    photo = asset_path("faces") / "astronaut.jpg"
    upload = ("photo.jpg", encoded(Image.open(photo).convert("RGB"), "JPEG", quality=90))
    bomb = ("bomb.png", encoded(Image.new("RGB", (args.bomb_side, args.bomb_side), (200, 180, 160))))
    large = ("large.jpg", large_photo(args.large_side))

    server = Server(args.model)
    try:
        crop = next(s["name"] for s in server.info["samples"] if not s["align"])
        ordinary: Request = ({"sample": photo.name, "expression": "happy", "intensity": "3"}, None)
        print(f"server: {server.url}, model {server.info['image_size']} x {server.info['image_size']}, "
              f"pid {server.process.pid}")
        run_requests(server, [ordinary] * 3, 1)  # warm-up: the detector and the model's first calls
        time.sleep(1)
        idle = server.memory("VmRSS")
        print(f"idle after warm-up: {idle:.0f} MB resident\n")

        print(f"one client, {args.requests} sequential requests:")
        for label, request in [("bundled photo: detect, align, translate", ordinary),
                               ("bundled aligned crop: translate only",
                                ({"sample": crop, "expression": "happy", "intensity": "3"}, None)),
                               (f"uploaded photo ({len(upload[1]) // 1024} KB JPEG, 512 x 512)",
                                ({"expression": "sad", "intensity": "2"}, upload))]:
            seconds, codes, _ = run_requests(server, [request] * args.requests, 1)
            print(f"  {label:48s} {percentiles(seconds)}  {dict(codes)}")

        server.reset_peak()
        seconds, codes, wall = run_requests(server, [ordinary] * args.requests, args.clients)
        print(f"\n{args.clients} clients at once, {args.requests} requests of the bundled photo:")
        print(f"  {percentiles(seconds)}  {dict(codes)}  {len(seconds) / wall:.1f} answers/s, "
              f"peak {server.memory('VmHWM'):.0f} MB")

        print(f"\n{args.uploads} hostile uploads at once:")
        for label, request in [(f"bomb: {len(bomb[1]) // 1024} KB PNG of {args.bomb_side} x {args.bomb_side}",
                                ({"expression": "happy"}, bomb)),
                               (f"largest decoded: {len(large[1]) // 1024} KB JPEG of {args.large_side} x "
                                f"{args.large_side}", ({"expression": "happy"}, large))]:
            server.reset_peak()
            before = server.memory("VmRSS")
            _, codes, wall = run_requests(server, [request] * args.uploads, args.uploads)
            peak = server.memory("VmHWM")
            time.sleep(2)
            print(f"  {label:48s} statuses {dict(codes)} in {wall:.1f} s; resident {before:.0f} MB before, "
                  f"peak {peak:.0f} MB, {server.memory('VmRSS'):.0f} MB 2 s after")

        status, seconds, _ = post(server.url + "/api/translate", *ordinary)
        print(f"\nafterwards an ordinary request: status {status} in {1000 * seconds:.0f} ms; "
              f"resident {server.memory('VmRSS'):.0f} MB (idle was {idle:.0f} MB)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
