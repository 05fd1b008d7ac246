"""The web page's photos between requests: uploaded once, then translated and edited again and again without
re-detecting (with stage I's displacements of each face and a copy at the size edits are shown, kept alongside).

A photo is kept only in memory, under a key that only the client that uploaded it is given (``secrets``, 192 bits:
unguessable, so one client can never reach another's photo). The store is bounded three ways: the number of photos,
their total bytes (the oldest used are dropped first), and an idle time after which a photo expires.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from landmarkgan.errors import LandmarkGANError

MAX_PHOTOS = 16
MAX_BYTES = 400 * 2**20
IDLE_SECONDS = 15 * 60


class PhotoExpired(LandmarkGANError):
    """A key that is unknown, or whose photo has expired or been dropped."""


@dataclass
class StoredPhoto:
    """A photo a client uploaded: its found faces, what live edits of it reuse, and what naming its results needs.
    ``nbytes`` counts every array kept."""

    faces: object  # the pipeline's PhotoFaces (pixels and aligned faces)
    name: str  # the upload's file name without its suffix
    suffix: str  # ".jpg" or ".png": how its results are written
    detector: str
    nbytes: int = 0
    displacements: list | None = None  # stage I's displacements of each face (the pipeline's FaceDisplacements)
    live: object = None  # the photo at the size live edits are shown, (h, w, 3) uint8
    used: float = field(default_factory=time.monotonic)


class PhotoStore:
    """Photos by key, bounded in count, bytes and idle time; safe to use from several threads."""

    def __init__(self, max_photos: int = MAX_PHOTOS, max_bytes: int = MAX_BYTES, idle_seconds: float = IDLE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_photos, self.max_bytes, self.idle_seconds = max_photos, max_bytes, idle_seconds
        self._clock = clock
        self._photos: OrderedDict[str, StoredPhoto] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, photo: StoredPhoto) -> str:
        """Keep a photo; its key. Older photos are dropped to keep within the bounds."""
        key = secrets.token_urlsafe(24)
        with self._lock:
            self._expire()
            photo.used = self._clock()
            self._photos[key] = photo
            while len(self._photos) > self.max_photos or (len(self._photos) > 1 and self.nbytes > self.max_bytes):
                self._photos.popitem(last=False)
        return key

    def get(self, key: str) -> StoredPhoto:
        """The photo under ``key`` (which counts as a use), or :class:`PhotoExpired`."""
        with self._lock:
            self._expire()
            photo = self._photos.get(key) if isinstance(key, str) else None
            if photo is None:
                raise PhotoExpired("this photo is no longer on the server (it expired or others took its place); "
                                   "upload it again")
            photo.used = self._clock()
            self._photos.move_to_end(key)
            return photo

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._photos)

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self._photos.values())

    def _expire(self) -> None:
        now = self._clock()
        for key in [k for k, p in self._photos.items() if now - p.used > self.idle_seconds]:
            del self._photos[key]
