"""The content-addressed cache: stable keys, sharded paths, atomic writes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from videoforge.pipeline.cache import Cache


def test_key_is_sha256_hex_and_separates_parts():
    key = Cache.key("piper:joe", "Hello.")
    assert len(key) == 64 and set(key) <= set("0123456789abcdef")
    assert key == Cache.key("piper:joe", b"Hello.")  # str is hashed as its UTF-8 bytes
    assert Cache.key("ab", "c") != Cache.key("a", "bc")  # length prefixes keep parts apart
    assert Cache.key("abc") != Cache.key("ab", "c")
    assert Cache.key() != Cache.key("")


def test_path_is_sharded_by_the_first_two_hex_digits(tmp_path):
    key = Cache.key("x")
    assert Cache(tmp_path).path(key, ".wav") == tmp_path / key[:2] / f"{key}.wav"


@pytest.mark.parametrize(
    "key",
    ["", "../etc/passwd", "a" * 63, "A" * 64, "g" * 64, "a" * 65, "../" + "a" * 61, "a" * 63 + "/"],
)
def test_path_refuses_anything_but_a_sha256_hex_key(tmp_path, key):
    with pytest.raises(ValueError):
        Cache(tmp_path).path(key, ".wav")


@pytest.mark.parametrize("suffix", ["/wav", ".wav/../x", "wav", ". wav", ".w\x00"])
def test_path_refuses_suffixes_that_could_leave_the_shard(tmp_path, suffix):
    with pytest.raises(ValueError):
        Cache(tmp_path).path(Cache.key("x"), suffix)


def test_get_misses_then_hits_after_put(tmp_path):
    cache = Cache(tmp_path / "cache")
    key = Cache.key("k")
    assert cache.get(key, ".txt") is None
    src = tmp_path / "src.txt"
    src.write_text("hello")
    stored = cache.put(key, ".txt", src)
    assert cache.get(key, ".txt") == stored
    assert stored.read_text() == "hello"
    assert src.exists()  # put copies
    assert cache.get(key, ".wav") is None  # the suffix is part of the entry


LONG_AGO = 1_000_000_000.0


def test_a_hit_marks_the_entry_used_by_setting_its_mtime_to_now(tmp_path):
    # Retention removes the least recently used entries and keeps those a running run used.
    cache = Cache(tmp_path)
    key = Cache.key("used")
    stored, _ = cache.get_or_create(key, ".txt", lambda path: path.write_text("x"))
    before = time.time() - 2  # file times may lag the clock a little
    os.utime(stored, (LONG_AGO, LONG_AGO))
    assert cache.get(key, ".txt") == stored
    assert stored.stat().st_mtime >= before
    os.utime(stored, (LONG_AGO, LONG_AGO))

    def make(path: Path) -> None:
        raise AssertionError("a hit makes nothing")

    assert cache.get_or_create(key, ".txt", make) == (stored, True)
    assert stored.stat().st_mtime >= before and stored.read_text() == "x"


class _Vanishing(type(Path())):
    """A path whose file goes right after is_file has seen it (retention removing it meanwhile)."""

    def is_file(self) -> bool:
        found = super().is_file()
        self.unlink(missing_ok=True)
        return found


class _RacedCache(Cache):
    """A real cache whose next lookup loses its entry between is_file and marking it used."""

    race = False

    def path(self, key: str, suffix: str) -> Path:
        path = super().path(key, suffix)
        if self.race:
            self.race = False
            return _Vanishing(path)
        return path


def test_an_entry_removed_between_the_check_and_the_mark_is_a_miss_and_made_again(tmp_path):
    cache = _RacedCache(tmp_path)
    key = Cache.key("raced")
    src = tmp_path / "src.txt"
    src.write_text("old")
    stored = cache.put(key, ".txt", src)

    cache.race = True
    assert cache.get(key, ".txt") is None and not stored.exists()

    cache.put(key, ".txt", src)
    cache.race = True
    path, hit = cache.get_or_create(key, ".txt", lambda out: out.write_text("new"))
    assert (path, hit) == (stored, False) and stored.read_text() == "new"


def test_get_or_create_makes_once_then_hits(tmp_path):
    cache = Cache(tmp_path)
    calls: list[Path] = []

    def make(path: Path) -> None:
        assert not path.exists() and path.suffix == ".bin" and path.parent.is_dir()
        calls.append(path)
        path.write_bytes(b"data")

    key = Cache.key("made")
    first, hit1 = cache.get_or_create(key, ".bin", make)
    second, hit2 = cache.get_or_create(key, ".bin", make)
    assert (hit1, hit2) == (False, True)
    assert first == second and first.read_bytes() == b"data"
    assert len(calls) == 1
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no temporary left


def test_failed_make_stores_nothing_and_leaves_no_temporary(tmp_path):
    cache = Cache(tmp_path)
    key = Cache.key("broken")

    def make(path: Path) -> None:
        path.write_bytes(b"half")
        raise RuntimeError("encoder crashed")

    with pytest.raises(RuntimeError):
        cache.get_or_create(key, ".mp4", make)
    assert cache.get(key, ".mp4") is None
    assert list(cache.path(key, ".mp4").parent.iterdir()) == []


def test_make_that_writes_nothing_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        Cache(tmp_path).get_or_create(Cache.key("lazy"), ".png", lambda path: None)


def test_put_replaces_atomically_so_readers_never_see_a_partial_file(tmp_path):
    cache = Cache(tmp_path)
    key = Cache.key("big")
    old = tmp_path / "old"
    new = tmp_path / "new"
    old.write_bytes(b"a" * 1_000_000)
    new.write_bytes(b"b" * 1_000_000)
    cache.put(key, ".dat", old)
    seen: set[bytes] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            data = cache.path(key, ".dat").read_bytes()
            seen.add(data[:1] + data[-1:] + len(data).to_bytes(4, "big"))

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(20):
        cache.put(key, ".dat", new if i % 2 else old)
    stop.set()
    reader.join()
    whole = {b"aa" + (1_000_000).to_bytes(4, "big"), b"bb" + (1_000_000).to_bytes(4, "big")}
    assert seen and seen <= whole


def test_concurrent_puts_of_one_key_all_succeed_with_one_whole_file(tmp_path):
    cache = Cache(tmp_path)
    key = Cache.key("same")
    src = tmp_path / "src"
    src.write_bytes(b"x" * 200_000)
    results: list[Path] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def put() -> None:
        barrier.wait()
        try:
            results.append(cache.put(key, ".bin", src))
        except BaseException as exc:  # collected to fail the test from the main thread
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1 and results[0].read_bytes() == src.read_bytes()
    assert [p.name for p in results[0].parent.iterdir()] == [results[0].name]


def test_concurrent_get_or_create_gives_every_caller_the_same_file(tmp_path):
    cache = Cache(tmp_path)
    key = Cache.key("race")
    barrier = threading.Barrier(6)
    results: list[tuple[Path, bool]] = []

    def make(path: Path) -> None:
        path.write_bytes(b"same bytes")

    def work() -> None:
        barrier.wait()
        results.append(cache.get_or_create(key, ".txt", make))

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({path for path, _ in results}) == 1
    assert results[0][0].read_bytes() == b"same bytes"
