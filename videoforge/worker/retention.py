"""Retention: remove finished runs' files by age; past a size, unused cache entries, then runs' files.

A run's files are its folder ``runs/{run_id}/`` and the files in ``videos/`` named
``{generation_id}-{run_id}`` followed by ``-`` or ``.`` (one per attempt), plus the name its
result records. Every path is computed from ids, and removed only when it resolves inside
its folder of the data directory; links are removed, never followed. Queued and running
runs are never touched: only runs that ended (completed, error, cancelled) at least
``settle`` seconds ago are chosen. The cache can be rebuilt and videos cannot, so past the
size limit cache entries go before any run's files. A cache hit sets the entry's mtime
(``Cache.get``), so mtimes say when an entry was last written or used: entries go least
recently used first, and an entry used since the oldest running run started (or within the
last ``settle`` seconds) may be in use and is kept. The database keeps every run's row and
records when its files went (``pruned_at``), so the API can say so.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..core.types import Run
from ..store.runs import RunStore

log = logging.getLogger(__name__)

MB = 1024 * 1024  # a megabyte of VIDEOFORGE_KEEP_MB, the unit of `du -m` and `df -m`
DAY = 86400.0
# A run that ended this recently may still have a worker writing into its folder (one that
# lost its lease or was cancelled mid-compose), so neither policy chooses it yet; such a
# worker may also still be reading cache entries, so those used this recently are kept.
SETTLE_SECONDS = 600.0
# A cache entry used this long before the oldest running run started may still be that
# run's: file times and the database's clock need not agree to the second.
IN_USE_MARGIN = 60.0
PAGE = 100
# The data directory's folders retention looks after (Settings.videos_dir, runs_dir, cache_dir),
# and the uploaded decks (Settings.uploads_dir), which go once no kept run names them.
VIDEOS, RUNS, CACHE, UPLOADS = "videos", "runs", "cache", "uploads"
_UPLOAD_FILE = re.compile(r"[0-9a-f]{64}\.(pdf|pptx)")

_OWNER = re.compile(r"-(\d{1,18})(?=[-.])")
_CACHE_FOLDER = re.compile(r"[0-9a-f]{2}")
_CACHE_FILE = re.compile(r"[0-9a-f]{64}[^/]*|\.tmp-[^/]+")


def video_owners(name: str) -> set[tuple[str, int]]:
    """Return every (generation id, run id) whose files a video file name may be.

    Generation ids may hold ``-`` and digits, so "a-1-2.mp4" may be run 1 of "a" (attempt 2)
    or run 2 of "a-1".
    """
    return {(name[: m.start()], int(m.group(1))) for m in _OWNER.finditer(name) if m.start()}


def tree_size(path: Path) -> int:
    """Return the bytes of the regular files under path (links are not followed)."""
    total, folders = 0, [path]
    while folders:
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            folders.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:  # removed while we looked
                        continue
        except (FileNotFoundError, NotADirectoryError):
            continue
    return total


def megabytes(size: int) -> str:
    """Word a size in bytes as megabytes, for people."""
    return f"{size / MB:.1f} MB"


@dataclass
class PrunedRun:
    """A run whose files were removed (or, in a dry run, would be)."""

    run_id: int
    generation_id: str
    reason: str  # "age" or "size"
    paths: list[str]  # relative to the data directory
    size: int

    def line(self) -> str:
        """Word the run for the prune command's listing."""
        paths = ", ".join(self.paths) or "no files left"
        return (
            f"run {self.run_id} ({self.generation_id}): {self.reason}, {megabytes(self.size)}:"
            f" {paths}"
        )


@dataclass
class PruneReport:
    """What one pass removed (or would remove), what it left alone and why."""

    dry_run: bool
    limit: int = 0  # bytes kept at most; 0 for no limit
    size_before: int = 0  # bytes of videos, runs and cache when the pass began
    runs: list[PrunedRun] = field(default_factory=list)
    cache_entries: list[str] = field(default_factory=list)
    cache_size: int = 0
    cache_in_use: int = 0  # cache entries that would have gone, left alone as in use
    kept: list[str] = field(default_factory=list)  # paths left alone, each with the reason
    errors: list[str] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)  # uploaded decks no kept run names
    uploads_size: int = 0

    @property
    def freed(self) -> int:
        """Return the bytes removed (or, in a dry run, that would be)."""
        return sum(run.size for run in self.runs) + self.cache_size

    @property
    def size_after(self) -> int:
        """Return the bytes of videos, runs and cache left after the pass."""
        return self.size_before - self.freed

    def summary(self) -> str:
        """Word the pass in one line: runs and cache entries removed, bytes freed."""
        pruned, freed = ("would prune", "would free") if self.dry_run else ("pruned", "freed")
        runs = len(self.runs)
        entries = len(self.cache_entries)
        text = (
            f"{pruned} {runs} run{'s' * (runs != 1)} and {entries} cache"
            f" entr{'ies' if entries != 1 else 'y'}, {freed} {megabytes(self.freed)};"
            f" videos, runs and cache: {megabytes(self.size_before)} ->"
            f" {megabytes(self.size_after)}"
        )
        if self.limit:
            text += f" (at most {megabytes(self.limit)} kept)"
        if self.cache_in_use:
            count = self.cache_in_use
            text += f"; {count} cache entr{'ies' if count != 1 else 'y'} in use left alone"
        if self.kept:
            text += f"; {len(self.kept)} path{'s' * (len(self.kept) != 1)} left alone"
        if self.uploads:
            gone = "would remove" if self.dry_run else "removed"
            count = len(self.uploads)
            text += (
                f"; {gone} {count} uploaded deck{'s' * (count != 1)} no kept run names"
                f" ({megabytes(self.uploads_size)})"
            )
        if self.errors:
            text += f"; {len(self.errors)} error{'s' * (len(self.errors) != 1)}"
        return text


def prune(
    store: RunStore,
    data_dir: Path,
    *,
    keep_days: float,
    keep_mb: int,
    now: float,
    dry_run: bool = False,
    settle: float = SETTLE_SECONDS,
) -> PruneReport:
    """Remove finished runs' files past keep_days; past keep_mb, unused cache entries, then the oldest runs' files.

    keep_days 0 keeps files forever and keep_mb 0 sets no size limit. now is the database's
    clock (finished_at and started_at are written with it). A dry run changes nothing and
    reports what would go.
    """
    return _Pass(store, Path(data_dir), now=now, dry_run=dry_run).run(keep_days, keep_mb, settle)


class Retention:
    """The automatic policy: a worker calls maybe_prune between runs; it prunes at most once per interval."""

    def __init__(
        self,
        store: RunStore,
        data_dir: Path,
        *,
        keep_days: float,
        keep_mb: int,
        every: float = 3600.0,
        settle: float = SETTLE_SECONDS,
    ):
        self.store = store
        self.data_dir = Path(data_dir)
        self.keep_days = keep_days
        self.keep_mb = keep_mb
        self.every = every
        self.settle = settle
        self._last: float | None = None

    @property
    def enabled(self) -> bool:
        """Say whether either limit is on."""
        return bool(self.keep_days or self.keep_mb)

    def maybe_prune(self, now: float) -> PruneReport | None:
        """Prune when the policy is on and `every` seconds have passed since the last pass; else None.

        The interval starts before the pass, so a pass that raises (the database is away)
        is not retried at once; the error reaches the caller.
        """
        if not self.enabled:
            return None
        if self._last is not None and 0 <= now - self._last < self.every:
            return None
        self._last = now
        report = prune(
            self.store,
            self.data_dir,
            keep_days=self.keep_days,
            keep_mb=self.keep_mb,
            now=now,
            settle=self.settle,
        )
        if report.runs or report.cache_entries or report.kept or report.errors:
            log.info("retention: %s", report.summary())
        for line in report.kept + report.errors:
            log.warning("retention: %s", line)
        return report


class _Pass:
    """One pruning pass over a data directory: its folders, the runs it removed, the bytes left."""

    def __init__(self, store: RunStore, data_dir: Path, *, now: float, dry_run: bool):
        self.store = store
        self.now = now
        self.dry_run = dry_run
        self.data_dir = data_dir
        self.roots = {name: data_dir / name for name in (VIDEOS, RUNS, CACHE)}
        # An operator may make a whole folder a link (videos on another disk); below it,
        # every path must resolve inside it, as the web's file resources require.
        self.bases = {name: root.resolve() for name, root in self.roots.items()}
        self.report = PruneReport(dry_run=dry_run)
        self.size = 0
        self.gone: set[int] = set()  # runs whose files this pass removed (or would remove)
        self._videos: dict[int, list[tuple[str, str]]] | None = None
        self._known: dict[int, tuple[str, bool]] = {}  # run id -> generation id, files kept

    def run(self, keep_days: float, keep_mb: int, settle: float) -> PruneReport:
        """Apply the age policy, then the size policy, and return what was done."""
        report = self.report
        report.size_before = self.size = sum(tree_size(root) for root in self.roots.values())
        if keep_days > 0:
            for run in self._finished(min(self.now - keep_days * DAY, self.now - settle)):
                self._prune_run(run, "age")
        if keep_mb > 0:
            report.limit = limit = keep_mb * MB
            if self.size > limit:
                self._prune_cache(limit, settle)
            if self.size > limit:
                for run in self._finished(self.now - settle):
                    if self.size <= limit:
                        break
                    if run.id not in self.gone:
                        self._prune_run(run, "size")
        self._prune_uploads(settle)
        return report

    # --- uploaded decks -------------------------------------------------------------------

    def _prune_uploads(self, settle: float) -> None:
        """Remove uploaded decks that no run with kept files names, once settled.

        A deck stored in the last `settle` seconds may belong to a request not yet queued
        (storing comes first); storing the same bytes again renews the file's time.
        """
        folder = self.data_dir / UPLOADS
        try:
            entries = [e for e in os.scandir(folder) if _UPLOAD_FILE.fullmatch(e.name)]
        except (FileNotFoundError, NotADirectoryError):
            return
        # The runs this pass pruned (a dry run only says it would) name theirs no more.
        named = {name for run_id, name in self.store.deck_files_kept() if run_id not in self.gone}
        for entry in entries:
            if entry.name in named or not entry.is_file(follow_symlinks=False):
                continue
            info = entry.stat(follow_symlinks=False)
            if info.st_mtime > self.now - settle:
                continue
            if not self.dry_run:
                try:
                    os.unlink(entry.path)
                except OSError as exc:
                    self.report.errors.append(f"{UPLOADS}/{entry.name}: {exc}")
                    continue
            self.report.uploads.append(f"{UPLOADS}/{entry.name}")
            self.report.uploads_size += info.st_size

    # --- runs ---------------------------------------------------------------------------

    def _finished(self, before: float) -> Iterator[Run]:
        """Yield the finished runs whose files are kept and that ended before `before`, oldest first."""
        after: tuple[float, int] | None = None
        while True:
            page = self.store.finished_unpruned(before, after=after, limit=PAGE)
            yield from page
            if len(page) < PAGE:
                return
            last = page[-1]
            after = (float(last.finished_at or 0), last.id)

    def _prune_run(self, run: Run, reason: str) -> None:
        """Remove a finished run's folder and videos, and record that they are gone."""
        paths: list[str] = []
        size = 0
        for folder, name in [(RUNS, str(run.id))] + [(VIDEOS, n) for n in self._video_names(run)]:
            removed = self._remove(folder, name, folders=folder == RUNS)
            if removed is not None:
                paths.append(f"{folder}/{name}")
                size += removed
        if not self.dry_run:
            self.store.mark_pruned(run.id, self.now)
        self.gone.add(run.id)
        self.size -= size
        self.report.runs.append(PrunedRun(run.id, run.generation_id, reason, paths, size))
        log.debug("retention: run %s (%s): %s, %d bytes", run.id, run.generation_id, reason, size)

    def _video_names(self, run: Run) -> list[str]:
        """Return the names in videos/ that are this run's and no other live run's."""
        if self._videos is None:
            self._videos = {}
            try:
                with os.scandir(self.roots[VIDEOS]) as entries:
                    for entry in entries:
                        if entry.is_dir(follow_symlinks=False):
                            continue  # a composer's temporary folder, or not ours
                        for gid, run_id in video_owners(entry.name):
                            self._videos.setdefault(run_id, []).append((gid, entry.name))
            except (FileNotFoundError, NotADirectoryError):
                pass
        names = {name for gid, name in self._videos.get(run.id, []) if gid == run.generation_id}
        recorded = run.result.get("video") if isinstance(run.result, dict) else None
        if isinstance(recorded, str) and recorded:
            if recorded in (".", "..") or Path(recorded).name != recorded or "\\" in recorded:
                self.report.kept.append(
                    f"run {run.id}: its result names the video {recorded[:200]!r}, which is not"
                    " a file name in videos/; left alone"
                )
            else:
                names.add(recorded)
        chosen = []
        for name in sorted(names):
            others = [(gid, other) for gid, other in video_owners(name) if other != run.id]
            owner = next(((g, o) for g, o in others if self._kept_by(g, o)), None)
            if owner is not None:
                self.report.kept.append(
                    f"{VIDEOS}/{name}: may be a file of run {owner[1]} ({owner[0]}),"
                    " whose files are kept; left alone"
                )
                continue
            chosen.append(name)
        return chosen

    def _kept_by(self, generation_id: str, run_id: int) -> bool:
        """Say whether a run of that generation id and id exists and its files are still kept."""
        if run_id in self.gone:
            return False
        if run_id not in self._known:
            run = self.store.get(run_id)
            if run is None:
                self._known[run_id] = ("", False)
            else:
                self._known[run_id] = (run.generation_id, self.store.pruned_at(run_id) is None)
        known_id, kept = self._known[run_id]
        return kept and known_id == generation_id

    def _remove(self, folder: str, name: str, *, folders: bool) -> int | None:
        """Remove folder/name if it lies inside that folder; return its bytes, None if nothing went."""
        path = self.roots[folder] / name
        shown = f"{folder}/{name}"
        if not os.path.lexists(path):
            return None
        base = self.bases[folder]
        target = path.resolve()
        if base not in target.parents:
            self.report.kept.append(f"{shown}: leads outside {folder}/; left alone")
            return None
        try:
            info = path.lstat()
            if stat.S_ISDIR(info.st_mode):
                if not folders:
                    self.report.kept.append(
                        f"{shown}: a folder where a file was expected; left alone"
                    )
                    return None
                size = tree_size(path)
                if not self.dry_run:
                    shutil.rmtree(path)  # removes links inside, never follows them
            else:
                size = info.st_size if stat.S_ISREG(info.st_mode) else 0
                if not self.dry_run:
                    path.unlink()  # a link goes, its target stays
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.report.errors.append(f"{shown}: {exc.strerror or exc}")
            return None
        return size

    # --- the cache ----------------------------------------------------------------------

    def _prune_cache(self, limit: int, settle: float) -> None:
        """Remove cache entries, least recently used first, until the total is within limit.

        A key's files (a .wav and its .cues.json) are one entry, as recent as its newest
        file. Entries used since `_in_use_since` are kept, and so is one whose files changed
        since the scan: a run is using it.
        """
        entries = sorted(self._cache_entries())
        since = self._in_use_since(settle)  # read after the scan: see there
        for index, (mtime, _name, files) in enumerate(entries):
            if self.size <= limit:
                return
            if mtime >= since:  # in use, and so is every entry after it
                self.report.cache_in_use = sum(len(later) for _, _, later in entries[index:])
                return
            self._remove_cache_entry(files)

    def _in_use_since(self, settle: float) -> float:
        """Return the time from which a cache entry's mtime says a run may be using it.

        That is when the oldest running run started (less a margin), or `settle` seconds ago
        if that is earlier: a worker that lost its run may still be using entries, as it may
        still be writing the run's files. A run that starts after this look marks what it
        uses after the scan, which the re-check before each removal sees.
        """
        since = self.now - settle
        for run in self.store.running():
            if run.started_at is None:  # not when it started: any entry may be its
                return -math.inf
            since = min(since, float(run.started_at) - IN_USE_MARGIN)
        return since

    def _remove_cache_entry(self, files: list[tuple[float, str, Path, int]]) -> None:
        """Remove one key's files unless one changed since the scan; the described file goes first."""
        present = []
        for mtime, shown, path, size in files:
            try:
                if path.lstat().st_mtime != mtime:
                    return  # written (or marked used) since we looked: in use
            except FileNotFoundError:
                continue
            except OSError as exc:
                self.report.errors.append(f"{shown}: {exc.strerror or exc}")
                return
            present.append((shown, path, size))
        for shown, path, size in present:
            try:
                if not self.dry_run:
                    path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:  # keep the rest: a .wav's cues must outlive the .wav
                self.report.errors.append(f"{shown}: {exc.strerror or exc}")
                return
            self.report.cache_entries.append(shown)
            self.report.cache_size += size
            self.size -= size

    def _cache_entries(self) -> list[tuple[float, str, list[tuple[float, str, Path, int]]]]:
        """Return each key's entry: (newest mtime, name, files), files as (mtime, shown, path, bytes).

        Files are cache/xx/<sha256><suffix>, and temporary files (each its own entry). The
        pipeline stores a key's companions (.cues.json, .credit.json: the longer suffixes)
        before the file they describe (.wav, .png), so a cached file always has them; the
        files are listed the other way round, shorter suffixes first, for removal. Only the
        cache's own names are taken; links and anything else in the folder are left alone.
        """
        try:
            with os.scandir(self.roots[CACHE]) as folders:
                subfolders = [
                    Path(f.path)
                    for f in folders
                    if _CACHE_FOLDER.fullmatch(f.name) and f.is_dir(follow_symlinks=False)
                ]
        except (FileNotFoundError, NotADirectoryError):
            return []
        keys: dict[str, list[tuple[float, str, Path, int]]] = {}
        for sub in subfolders:
            try:
                with os.scandir(sub) as files:
                    found = [e for e in files if _CACHE_FILE.fullmatch(e.name)]
            except FileNotFoundError:
                continue
            for entry in found:
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                shown = f"{CACHE}/{sub.name}/{entry.name}"
                key = entry.name if entry.name.startswith(".tmp-") else entry.name[:64]
                keys.setdefault(f"{sub.name}/{key}", []).append(
                    (info.st_mtime, shown, Path(entry.path), info.st_size)
                )
        entries = []
        for name, files in keys.items():
            files.sort(key=lambda file: (file[1].count("."), file[1]))
            entries.append((max(file[0] for file in files), name, files))
        return entries
