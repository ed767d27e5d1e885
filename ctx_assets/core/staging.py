"""A build's files staged inside the output folder and moved into the bundle together (issue 22).

Every stage writes below `OUT/.ctx-staging/files/` (the same file system as the bundle, so the swap is
renames); readers look there first, then in the bundle. The last stage commits: it checks that every
destination folder is a real folder inside OUT into which a rename works, then moves the staged files
into place keeping each replaced file (a hard link in `kept/`) until all are moved, so a failure in the
middle puts the previous files back. A build that faults never commits and its staging is discarded;
a commit killed midway is rolled forward by the next run (every staged file was complete before it
began), so the bundle is always the previous one or the new one, whole.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import shutil
from pathlib import Path

from .checksums import moved_file
from .faults import EnvironmentFault
from .fsio import OwnedByAnotherProject, UnsafePathError, claim, contained, forget_made, process_alive, write_atomic

STAGING = ".ctx-staging"  # hidden, inside OUT: never part of the bundle, never listed
FILES = "files"  # the new files at their bundle paths
KEPT = "kept"  # the files a commit replaced, until it is done (rollback)
WRITERS = "writers"  # one marker per step writing now: `PID.N`; `PID.N.failed` once it faulted
COMMITTING = "COMMITTING"  # a commit began: the next run rolls it forward
_COUNTER = itertools.count()
_NO_LINK = {errno.EPERM, errno.EMLINK, errno.EXDEV, errno.EOPNOTSUPP}  # link refused: fall back to a rename


class StagingBusy(EnvironmentFault):
    """Another live process is writing into the same output folder."""


class StagingIncomplete(EnvironmentFault):
    """A step that wrote into the staging faulted or was killed: it is discarded, never committed."""


def root_of(out: Path) -> Path:
    return Path(out) / STAGING


def files_root(out: Path) -> Path:
    return root_of(out) / FILES


def staged(out: Path, relative: str) -> Path:
    """Where a stage writes `relative` (contained in the staging's files folder, as the bundle path in OUT)."""
    return contained(files_root(out), relative)


def stage(out: Path, relative: str, data: bytes) -> Path:
    """Write `relative` into the staging; returns the staged file. A failure names the bundle file being
    built, as an operator knows it, not its place in the staging."""
    p = staged(out, relative)
    try:
        write_atomic(p, data)
    except OSError as e:
        raise type(e)(e.errno, e.strerror, str(contained(Path(out), relative))) from e
    return p


def current(out: Path, relative: str) -> Path:
    """The newest version of `relative`: staged by this build, else the bundle's."""
    p = staged(out, relative)
    return p if p.exists() else contained(Path(out), relative)


def pending(out: Path) -> bool:
    """Whether staged files wait for a commit (one stat: the sensor asks every tick)."""
    return files_root(out).is_dir()


def begin_write(out: Path) -> Path:
    """Mark a step as writing into the staging (removed by end_write). A marker left by a killed process, or
    renamed `.failed` by a step that faulted, makes the staging incomplete: the next commit discards it."""
    folder = root_of(out) / WRITERS
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / f"{os.getpid()}.{next(_COUNTER)}"
    marker.touch()
    return marker


def end_write(marker: Path, ok: bool) -> None:
    try:
        if ok:
            marker.unlink()
        else:  # a rename needs no free space: also recorded on a full disk
            marker.rename(marker.with_name(marker.name + ".failed"))
    except FileNotFoundError:  # the staging was discarded meanwhile
        pass


def _writers(root: Path) -> tuple[list[int], bool]:
    """(pids of live writers, whether a writer faulted or died) of a staging."""
    live, broken = [], False
    try:
        names = os.listdir(root / WRITERS)
    except FileNotFoundError:
        return live, broken
    for name in names:
        pid = int(name.split(".", 1)[0]) if name.split(".", 1)[0].isdigit() else -1
        if name.endswith(".failed") or pid < 0 or not process_alive(pid) or pid == os.getpid():
            broken = True  # this process's own marker at commit time: a step of it never ended cleanly
        else:
            live.append(pid)
    return live, broken


def discard(out: Path) -> None:
    """Remove the staging (a build that faulted never commits)."""
    root = root_of(out)
    shutil.rmtree(root, ignore_errors=True)
    forget_made(root)


def recover(out: Path) -> None:
    """Before a build writes: finish a commit that was killed midway (roll forward), discard what killed or
    faulted writers left, refuse while another live process writes here (StagingBusy)."""
    root = root_of(out)
    if not root.is_dir():
        return
    if (root / COMMITTING).exists():
        _roll_forward(out)
        return
    live, _ = _writers(root)
    if live:
        raise StagingBusy(f"another ctx process (pid {live[0]}) is writing into {out}; wait for it to finish")
    discard(out)


def write_all(out: Path, files: dict[str, bytes]) -> None:
    """Write a whole bundle (`ctx export`) as a build does: staged, then committed in one step."""
    recover(out)
    try:
        for rel, data in files.items():
            stage(out, rel, data)
        commit(out)
    except BaseException:
        discard(out)
        raise


def staged_files(out: Path) -> list[str]:
    """Every staged file, relative to the bundle (one walk of the staging; [] when there is none)."""
    base = files_root(out)
    found: list[str] = []
    for folder, _, names in os.walk(base):
        rel = os.path.relpath(folder, base)
        found += [n if rel == "." else f"{rel}/{n}" for n in names]
    return sorted(found)


def commit(out: Path, project: str | None = None) -> int:
    """Move every staged file into the bundle, all or none; returns how many. Raises StagingIncomplete (the
    staging is discarded), StagingBusy, UnsafePathError or OwnedByAnotherProject (refused before anything
    moves), OSError (a move failed: the moved files were put back, the staging discarded)."""
    root = root_of(out)
    if not root.is_dir():
        return 0
    live, broken = _writers(root)
    if live:
        raise StagingBusy(f"another ctx process (pid {live[0]}) is writing into {out}; not committing")
    if broken:
        discard(out)
        raise StagingIncomplete(f"a stage writing into {out} faulted or was killed; the previous bundle is kept")
    files, made = staged_files(out), []
    try:
        if project:
            claim(out, project)
        _check_destinations(out, files, made)
    except (OSError, UnsafePathError, OwnedByAnotherProject):
        _roll_back(out, [], made)
        discard(out)
        raise
    (root / COMMITTING).touch()
    moved: list[tuple[str, bool]] = []
    try:
        _move(out, files, moved)
    except OSError:
        _roll_back(out, moved, made)
        discard(out)
        raise
    discard(out)
    return len(files)


def _check_destinations(out: Path, files: list[str], made: list[Path]) -> None:
    """Every destination folder a real folder inside OUT (not a link out of it) into which a rename from the
    staging works (a probe file: permission, read-only, another mount). Folders that are missing are made
    and added to `made`, so a rollback removes them. Per folder, not per file: a bundle has a handful."""
    out_r = Path(out).resolve()
    for rel in sorted({f.rpartition("/")[0] for f in files}):
        dest, missing = Path(out) / rel if rel else Path(out), []
        existing = dest
        while not existing.exists() and existing != Path(out):
            missing.append(existing)
            existing = existing.parent
        resolved = existing.resolve()  # checked before anything is made below it
        if resolved != out_r and out_r not in resolved.parents:
            raise UnsafePathError(f"{existing} leads outside the output folder {out} (to {resolved})")
        if not resolved.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(existing))
        for p in reversed(missing):
            p.mkdir()
            made.append(p)
        resolved = dest.resolve()
        # Two probes, named like temp files so a killed probe is swept later: a file made in the folder
        # (permission, read-only file system), then one renamed into it from the staging (a folder that is
        # another mount: renames cannot cross it, so this bundle cannot be swapped in there).
        name = f".ctx-probe.{os.getpid()}.0.tmp"
        try:
            os.close(os.open(dest / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.unlink(dest / name)
            write_atomic(files_root(out) / rel / name, b"")
            os.rename(files_root(out) / rel / name, dest / name)
            os.unlink(dest / name)
        except OSError as e:  # name the folder the bundle needs, not the probe
            raise type(e)(e.errno, e.strerror, str(resolved)) from None


def _move(out: Path, files: list[str], moved: list[tuple[str, bool]]) -> None:
    base, kept, out = files_root(out), root_of(out) / KEPT, Path(out)
    kept_dirs: set[str] = set()
    for rel in files:
        dest = out / rel
        folder = rel.rpartition("/")[0]
        if folder not in kept_dirs:
            (kept / folder).mkdir(parents=True, exist_ok=True)
            kept_dirs.add(folder)
        try:  # a link keeps the old version and leaves it in place: readers never find the file missing
            os.link(dest, kept / rel)
            had_old = True
        except FileNotFoundError:
            had_old = False
        except OSError as e:  # no hard links here (or not ours to link): move the old version aside instead
            if dest.is_dir():  # a folder where the bundle has a file: never moved aside (nor deleted after)
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(dest)) from None
            if e.errno not in _NO_LINK:
                raise type(e)(e.errno, e.strerror, str(dest)) from None
            os.rename(dest, kept / rel)
            had_old = True
        moved.append((rel, had_old))
        try:
            os.replace(base / rel, dest)
        except OSError as e:
            raise type(e)(e.errno, e.strerror, str(dest)) from None
        moved_file(base / rel, dest)


def _roll_back(out: Path, moved: list[tuple[str, bool]], made: list[Path]) -> None:
    kept, out = root_of(out) / KEPT, Path(out)
    for rel, had_old in reversed(moved):
        with contextlib.suppress(FileNotFoundError):
            if had_old:
                os.replace(kept / rel, out / rel)
            else:
                os.unlink(out / rel)
    for p in reversed(made):
        with contextlib.suppress(OSError):
            p.rmdir()


def _roll_forward(out: Path) -> None:
    """Finish a commit a killed process began: the staged files were all complete before it started."""
    base, out = files_root(out), Path(out)
    for rel in staged_files(out):
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(base / rel, dest)
    discard(out)
