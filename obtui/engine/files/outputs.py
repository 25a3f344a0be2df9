"""Where outputs go, and how they are written so that no partial output is ever left behind."""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path, PurePosixPath

from obtui.engine.errors import OutputError, PathEscapeError

TEMP_PREFIX = ".obtui-"  # hidden, and `*.tmp`: both are in the default ignores
TEMP_SUFFIX = ".tmp"
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _within(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


def _rel_parent(rel: str) -> PurePosixPath:
    parent = PurePosixPath(rel).parent
    if parent.is_absolute() or ".." in parent.parts:
        raise PathEscapeError(f"Relative path {rel!r} must stay inside its bucket")
    return parent


def _inside_bucket(bucket: Path, target: str, what: str) -> Path:
    """`bucket/target`, refused if it leaves the bucket lexically (`..`) or through a symlink."""
    joined = os.path.normpath(os.path.join(bucket, target))
    root = os.path.normpath(bucket)
    real_root = os.path.realpath(bucket)
    if not _within(joined, root) or not _within(os.path.realpath(joined), real_root):
        raise PathEscapeError(
            f"{what} {target!r} resolves outside the bucket {bucket}",
            context={"target": target, "bucket": str(bucket)},
        )
    return Path(joined)


def resolve_output_dir(bucket: Path, source: Path, rel: str, output_dir: str | None) -> Path:
    """The folder that receives the outputs for `source` (at `rel` inside `bucket`).

    None: the source's own folder. Relative: `bucket/output_dir/<rel's folder>`, mirroring
    sub-folders so equal names in different folders do not clash; it must stay inside the bucket
    (no `..`, no symlinked folder pointing out) or PathEscapeError is raised. Absolute (or `~`):
    `output_dir/<rel's folder>`. The folder is not created here.
    """
    if output_dir is None:
        return Path(source).parent
    sub = _rel_parent(rel)
    expanded = os.path.expanduser(output_dir)
    if os.path.isabs(expanded):
        return Path(os.path.normpath(expanded)) / sub
    return _inside_bucket(Path(bucket), os.path.join(expanded, *sub.parts), "output_dir")


def resolve_move_target(bucket: Path, target: str) -> Path:
    """The folder for a `move:` post-action: relative targets are inside the bucket (checked like
    `resolve_output_dir`), absolute or `~` targets are taken as given."""
    expanded = os.path.expanduser(target)
    if os.path.isabs(expanded):
        return Path(os.path.normpath(expanded))
    return _inside_bucket(Path(bucket), expanded, "move target")


def _open_temp(parent: Path) -> tuple[int, Path]:
    for _ in range(100):
        tmp = parent / f"{TEMP_PREFIX}{secrets.token_hex(6)}{TEMP_SUFFIX}"
        try:
            # 0o666 & ~umask, like any file a program creates (mkstemp would make it 0600).
            return os.open(tmp, _CREATE_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(parent))


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = False) -> None:
    """Write `data` to `path` through a hidden temp file in the same folder and `os.replace`.

    Readers see the old content or the new, never a part. The parent folder is created if
    missing. `fsync=True` also survives power loss; the default only guards against crashes.
    On failure (ENOSPC, EACCES, EROFS …) the temp file is removed and OutputError raised with
    the errno name as code.
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        try:
            fd, tmp = _open_temp(path.parent)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = _open_temp(path.parent)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, "EIO")
        raise OutputError(
            f"Could not write {path}: {exc.strerror or exc}",
            code=code,
            context={"path": str(path)},
        ) from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def atomic_write_text(path: Path, text: str, *, fsync: bool = False, encoding: str = "utf-8") -> None:
    """`atomic_write_bytes` for text (UTF-8 by default; unencodable characters are escaped)."""
    atomic_write_bytes(path, text.encode(encoding, "backslashreplace"), fsync=fsync)
