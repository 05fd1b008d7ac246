"""The web page's photo store: bounded in count, bytes and idle time, and reachable only by its key."""

from __future__ import annotations

import threading

import pytest

from landmarkgan.app.store import PhotoExpired, PhotoStore, StoredPhoto


def photo(name: str, nbytes: int = 10) -> StoredPhoto:
    return StoredPhoto(faces=None, name=name, suffix=".jpg", detector="hog", nbytes=nbytes)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_keys_are_long_random_and_give_back_the_photo() -> None:
    store = PhotoStore()
    keys = {store.add(photo(f"p{k}")) for k in range(5)}
    assert len(keys) == 5 and all(len(k) >= 32 for k in keys)
    for key in keys:
        assert store.get(key).name.startswith("p")
    for wrong in ("", "p0", next(iter(keys))[:-1], None, 7):
        with pytest.raises(PhotoExpired, match="upload it again"):
            store.get(wrong)


def test_count_and_bytes_are_bounded_dropping_the_least_recently_used() -> None:
    store = PhotoStore(max_photos=3, max_bytes=100)
    a, b, c = (store.add(photo(n)) for n in "abc")
    store.get(a)  # a is used again: b is now the oldest
    d = store.add(photo("d"))
    assert len(store) == 3 and store.get(a).name == "a"
    with pytest.raises(PhotoExpired):
        store.get(b)
    big = store.add(photo("big", nbytes=90))  # 90 + 3 x 10 > 100: the oldest go until it fits
    assert store.nbytes <= 100 and store.get(big).name == "big"
    with pytest.raises(PhotoExpired):
        store.get(c)
    huge = store.add(photo("huge", nbytes=1000))  # larger than the budget alone: kept (the one being worked on)
    assert len(store) == 1 and store.get(huge).name == "huge"
    assert d  # (d was dropped along the way)


def test_photos_expire_when_idle() -> None:
    clock = Clock()
    store = PhotoStore(idle_seconds=60, clock=clock)
    key = store.add(photo("a"))
    clock.now = 50
    assert store.get(key).name == "a"  # a use keeps it alive
    clock.now = 100
    assert store.get(key).name == "a"
    clock.now = 161
    with pytest.raises(PhotoExpired, match="expired"):
        store.get(key)
    assert len(store) == 0


def test_many_threads_at_once_keep_the_bounds() -> None:
    store = PhotoStore(max_photos=4, max_bytes=10**6)
    errors: list[Exception] = []

    def work(k: int) -> None:
        try:
            for j in range(50):
                key = store.add(photo(f"{k}-{j}"))
                try:
                    assert store.get(key).name == f"{k}-{j}"
                except PhotoExpired:
                    pass  # another thread's photos may push it out at once
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(store) <= 4
