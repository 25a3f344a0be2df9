"""Look at an input before any action runs: stat, safety checks and the content hash.

Runs in a worker thread. Every problem becomes one of the `ProcessingError`s in `failures.py`,
with a message that names the file.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from obtui.config.units import format_size
from obtui.engine.errors import (
    EmptyFileError,
    FileBusyError,
    FileTooLargeError,
    FileVanishedError,
    NotRegularFileError,
    PermissionDeniedError,
    ProcessingError,
    SymlinkEscapeError,
)

CHUNK = 1 << 20  # hash in 1 MiB reads

# O_NONBLOCK: if the path was swapped for a FIFO after the stat, open() must not block waiting for
# a writer; O_NOFOLLOW: nor may a swapped-in symlink lead us out of the bucket.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
_OPEN_FLAGS |= getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class FileFacts:
    """What the processor learned about the input before running the action ."""

    path: Path  # absolute path as seen in the bucket (may be a symlink inside the bucket)
    real_path: Path  # resolved path that is actually read
    size: int
    mtime: float
    mtime_ns: int
    inode: int
    sha256: str
    is_dir: bool = False


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def _is_within(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


def os_error(exc: OSError, path: Path, what: str = "read") -> ProcessingError:
    """Map an OSError met while reading `path` to the matching ProcessingError."""
    code = errno.errorcode.get(exc.errno or 0)
    reason = exc.strerror or str(exc)
    if isinstance(exc, FileNotFoundError) or exc.errno in (errno.ENOTDIR, errno.ESTALE):
        return FileVanishedError(f"{path} disappeared before it could be {what}", code=code or "ENOENT")
    if isinstance(exc, PermissionError):
        return PermissionDeniedError(f"Permission denied: cannot {what} {path}", code="EACCES")
    if exc.errno in (errno.EBUSY, errno.ETXTBSY):
        return FileBusyError(f"{path} is busy ({reason})", code=code)
    if exc.errno == errno.ELOOP:
        return NotRegularFileError(f"{path} is a symlink loop or was replaced by a symlink", code=code)
    err = ProcessingError(f"Could not {what} {path}: {reason}", code=code)
    err.operation = "readFile"
    return err


def _resolve(path: Path, bucket: Path) -> Path:
    """The real path of the symlink `path`, which must exist and stay inside the bucket."""
    try:
        real = os.path.realpath(path, strict=True)
    except FileNotFoundError:
        raise FileVanishedError(f"{path} is a symlink to a missing file", code="ENOENT") from None
    except OSError as exc:
        raise os_error(exc, path, "resolve") from exc
    root = os.path.realpath(bucket)
    if not _is_within(real, root):
        raise SymlinkEscapeError(
            f"{path} is a symlink to {real}, outside the bucket {root}",
            context={"target": real, "bucket": root},
        )
    return Path(real)


def inspect_file(
    path: Path,
    bucket: Path,
    max_file_size: int,
    *,
    want_hash: bool = True,
    allow_dir: bool = False,
) -> FileFacts:
    """Stat, check and hash one dropped file.

    Symlinks are followed only to targets inside the bucket. Raises FileVanishedError,
    PermissionDeniedError, FileBusyError, NotRegularFileError (FIFOs, sockets, devices, folders
    unless `allow_dir`), SymlinkEscapeError, EmptyFileError or FileTooLargeError. A FIFO is never
    opened. With `want_hash=False` the sha256 is left empty; for a folder it is `fingerprint_dir`.
    """
    path = Path(path)
    try:
        lst = os.lstat(path)
    except OSError as exc:
        raise os_error(exc, path, "stat") from exc
    real = path
    st = lst
    if stat.S_ISLNK(lst.st_mode):
        real = _resolve(path, bucket)
        try:
            st = os.stat(real)
        except OSError as exc:
            raise os_error(exc, path, "stat") from exc
    if stat.S_ISDIR(st.st_mode) and allow_dir:
        return FileFacts(
            path=path,
            real_path=real,
            size=0,
            mtime=st.st_mtime,
            mtime_ns=st.st_mtime_ns,
            inode=st.st_ino,
            sha256=fingerprint_dir(real) if want_hash else "",
            is_dir=True,
        )
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFileError(f"{path} is {_kind(st.st_mode)}; only regular files are processed")
    _check_size(path, st.st_size, max_file_size)
    if not want_hash:
        return _facts(path, real, st, st.st_size, "")
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except OSError as exc:
        raise os_error(exc, path, "open") from exc
    with os.fdopen(fd, "rb", buffering=0) as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped between stat and open
            raise NotRegularFileError(f"{path} is {_kind(st.st_mode)}; only regular files are processed")
        os.set_blocking(fd, True)
        try:
            digest, size = _hash(f, max_file_size, st.st_size)
        except OSError as exc:
            raise os_error(exc, path, "read") from exc
    # The hash covers exactly `size` bytes, even if the file changed size while being read.
    _check_size(path, size, max_file_size)
    return _facts(path, real, st, size, digest)


def _check_size(path: Path, size: int, max_file_size: int) -> None:
    if size == 0:
        raise EmptyFileError(f"{path} is empty")
    if size > max_file_size:
        raise FileTooLargeError(
            f"{path} is {format_size(size)}, over the {format_size(max_file_size)} limit (max_file_size)",
            context={"size": size, "max_file_size": max_file_size},
        )


def _hash(f: object, limit: int, size_hint: int = CHUNK) -> tuple[str, int]:
    h = hashlib.sha256()
    # A buffer the size of the file (a chunk at most): zeroing a whole chunk for a small file
    # cost more than hashing it.
    buf = bytearray(min(CHUNK, max(size_hint + 1, 4096)))
    view = memoryview(buf)
    total = 0
    readinto = f.readinto  # type: ignore[attr-defined]
    while total <= limit:
        n = readinto(buf)
        if not n:
            break
        h.update(view[:n])
        total += n
    return h.hexdigest(), total


def _facts(path: Path, real: Path, st: os.stat_result, size: int, digest: str) -> FileFacts:
    return FileFacts(
        path=path,
        real_path=real,
        size=size,
        mtime=st.st_mtime,
        mtime_ns=st.st_mtime_ns,
        inode=st.st_ino,
        sha256=digest,
    )


def fingerprint_dir(path: Path) -> str:
    """A sha256 over a folder's sorted relative paths, sizes and mtimes (content is not read).

    Hidden entries and obtui's own temp files are left out, like the folder summary does, so
    writing a summary does not change the fingerprint. Entries that vanish mid-walk are skipped.
    """
    root = str(path)
    rows: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda _e: None):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames:
            rows.append(f"d\0{os.path.join(rel_dir, name)}")
        for name in filenames:
            if name.startswith("."):
                continue
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            rows.append(f"f\0{os.path.join(rel_dir, name)}\0{st.st_size}\0{st.st_mtime_ns}")
    rows.sort()
    h = hashlib.sha256()
    for row in rows:
        h.update(row.encode("utf-8", "surrogateescape"))
        h.update(b"\n")
    return h.hexdigest()
