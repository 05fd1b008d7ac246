"""Latency of live edits on the web page (issue 34), and their throughput with several clients (a benchmark).

Starts ``python -m landmarkgan serve`` as a subprocess, uploads a photo of ``--megapixels`` (the bundled portrait
scaled up, so the face grows with it: the most paste-back work a photo of that size asks for) once per client, and
sends edits over HTTP as the page does while a slider moves or a point is dragged: ``POST /api/edit`` with the
photo's key, each request a new intensity and a drag step of a mouth corner. An edit renders the faces at the model's
size from stage I's displacements kept with the photo, pastes them into the photo at the size the page shows it (at
most 800 pixels) and sends that back as a JPEG. It prints:

* one client, sequential edits: latency percentiles (and, for comparison, the full-size result the page fetches once
  the controls rest, ``POST /api/translate`` with the same fields);
* ``--clients`` clients editing at once, each its own photo: latency percentiles and edits answered per second;
* where the time of one edit goes, measured in this process without HTTP: stage II, paste-back, JPEG;
* the machine's load average before and after, since these machines are shared.

    python scripts/benchmark_edit.py                        # 1-megapixel photo, 100 edits, 4 clients
    python scripts/benchmark_edit.py --threads 1            # the server's torch on one thread
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from landmarkgan.assets import asset_path

from benchmark_server import Server, encoded, percentiles, post  # scripts/, beside this one

EXPRESSIONS = ("surprise", "happy", "sad", "angry")


def photo(megapixels: float) -> bytes:
    """The bundled portrait scaled (bicubic) to about ``megapixels``, as a JPEG of quality 90."""
    image = Image.open(asset_path("faces") / "astronaut.jpg").convert("RGB")
    side = round((megapixels * 1e6) ** 0.5)
    return encoded(image.resize((side, side), Image.Resampling.BICUBIC), "JPEG", quality=90)


def edits(count: int, seed: int) -> list[dict[str, str]]:
    """The fields of ``count`` edits: the intensity slider moving and a mouth corner dragged a step at a time."""
    rng = np.random.default_rng(seed)
    fields = []
    for k in range(count):
        drag = [[0, 48, -0.5 * (k % 20), -0.7 * (k % 20)]]
        fields.append({"expression": EXPRESSIONS[(k // 25) % len(EXPRESSIONS)],
                       "intensity": f"{rng.uniform(0, 6):.1f}", "moves": json.dumps(drag)})
    return fields


class EditServer(Server):
    """``landmarkgan serve`` in a subprocess (its torch on ``threads`` threads when given), uploading and editing."""

    def __init__(self, model: str | None, threads: int | None) -> None:
        super().__init__(model, threads, ("--detector", "hog"))

    def upload(self, data: bytes) -> str:
        status, _, answer = post(self.url + "/api/photo", {}, ("photo.jpg", data))
        if status != 200:
            raise SystemExit(f"the upload failed: {answer.decode(errors='replace')}")
        return json.loads(answer)["photo"]

    def run(self, key: str, fields: list[dict[str, str]], route: str = "/api/edit") -> list[float]:
        seconds = []
        for f in fields:
            status, spent, answer = post(self.url + route, {"photo": key, **f})
            if status != 200:
                raise SystemExit(f"{route} answered {status}: {answer.decode(errors='replace')}")
            seconds.append(spent)
        return seconds

def split(data: bytes, count: int) -> dict[str, float]:
    """Where one edit's time goes, in this process: median ms of stage II, paste-back and JPEG."""
    from landmarkgan.app.server import LIVE_QUALITY, LIVE_SIDE, data_url
    from landmarkgan.data.images import decode_image, shrink
    from landmarkgan.inference import LandmarkGANPipeline

    pipe = LandmarkGANPipeline.from_pretrained(device="cpu", detector="hog")
    found = pipe.find_faces(decode_image(data, "the photo", 50_000_000))
    kept, live = pipe.displacements(found), shrink(found.pixels, LIVE_SIDE)[0]
    times: dict[str, list[float]] = {"stage II": [], "paste-back": [], "JPEG": []}
    for k, fields in enumerate(edits(count + 1, 1)):
        control = pipe.control(fields["expression"], float(fields["intensity"]))
        start = time.perf_counter()
        result = pipe.render_control(found, control, kept)
        middle = time.perf_counter()
        pasted = result.render_photo(onto=live)
        end = time.perf_counter()
        data_url(pasted, ".jpg", quality=LIVE_QUALITY)
        if k:  # the first is a warm-up
            for name, spent in zip(times, (middle - start, end - middle, time.perf_counter() - end)):
                times[name].append(spent)
    return {name: 1000 * statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model folder or training run (default: the built-in model)")
    parser.add_argument("--megapixels", type=float, default=1.0, help="the photo's size (default 1)")
    parser.add_argument("--edits", type=int, default=100, help="sequential edits from one client (default 100)")
    parser.add_argument("--clients", type=int, default=4, help="clients editing at once (default 4)")
    parser.add_argument("--threads", type=int, help="the server's torch threads (default: torch's own)")
    args = parser.parse_args()

    data = photo(args.megapixels)
    load = os.getloadavg()
    server = EditServer(args.model, args.threads)
    try:
        key = server.upload(data)
        server.run(key, edits(5, 0))  # warm-up
        print(f"photo: {args.megapixels:g} megapixels ({len(data) // 1024} KB JPEG); server torch threads: "
              f"{args.threads or 'default'}; load average before: {load[0]:.2f} (1 min), {load[1]:.2f} (5 min), "
              f"{os.cpu_count()} CPUs")
        seconds = server.run(key, edits(args.edits, 1))
        print(f"one client, {args.edits} edits (POST /api/edit):         {percentiles(seconds)}")
        full = server.run(key, edits(max(5, args.edits // 10), 2), "/api/translate")
        print(f"  the full-size result once the controls rest:     {percentiles(full)}")
        keys = [server.upload(data) for _ in range(args.clients)]
        per_client = max(1, args.edits // args.clients) * 2
        start = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            answers = list(pool.map(lambda k: server.run(keys[k], edits(per_client, 10 + k)), range(args.clients)))
        wall = time.perf_counter() - start
        everything = [s for client in answers for s in client]
        print(f"{args.clients} clients editing at once, {per_client} edits each: {percentiles(everything)}, "
              f"{len(everything) / wall:.1f} edits/s")
    finally:
        server.stop()
    parts = split(data, min(20, args.edits))
    print("one edit in this process: " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in parts.items()))
    after = os.getloadavg()
    print(f"load average after: {after[0]:.2f} (1 min), {after[1]:.2f} (5 min)")


if __name__ == "__main__":
    main()
