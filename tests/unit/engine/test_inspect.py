"""inspect_file / fingerprint_dir and the output-path helpers, on real files."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from obtui.engine.errors import (
    EmptyFileError,
    FileTooLargeError,
    FileVanishedError,
    NotRegularFileError,
    OutputError,
    PathEscapeError,
    PermissionDeniedError,
    SymlinkEscapeError,
)
from obtui.engine.files.facts import fingerprint_dir, inspect_file
from obtui.engine.files.outputs import (
    atomic_write_bytes,
    atomic_write_text,
    resolve_move_target,
    resolve_output_dir,
)

MAX = 10_000_000


def test_regular_file_facts_and_hash(bucket: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # more than one 1 MiB chunk
    f = bucket / "a.bin"
    f.write_bytes(data)
    facts = inspect_file(f, bucket, MAX)
    st = f.stat()
    assert facts.sha256 == hashlib.sha256(data).hexdigest()
    assert (facts.size, facts.inode, facts.mtime_ns) == (len(data), st.st_ino, st.st_mtime_ns)
    assert facts.path == f and facts.real_path == f and not facts.is_dir
    assert inspect_file(f, bucket, MAX, want_hash=False).sha256 == ""


def test_fifo_is_rejected_without_blocking(bucket: Path) -> None:
    fifo = bucket / "pipe.txt"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            inspect_file(fifo, bucket, MAX)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "inspect_file blocked on a FIFO"
    assert isinstance(outcome[0], NotRegularFileError)
    assert "FIFO" in str(outcome[0]) and "pipe.txt" in str(outcome[0])


def test_symlink_to_fifo_inside_bucket_is_rejected(bucket: Path) -> None:
    os.mkfifo(bucket / "pipe")
    (bucket / "link").symlink_to(bucket / "pipe")
    with pytest.raises(NotRegularFileError):
        inspect_file(bucket / "link", bucket, MAX)


def test_socket_and_directory_rejected(bucket: Path) -> None:
    s = socket.socket(socket.AF_UNIX)
    try:
        try:
            s.bind(str(bucket / "s.sock"))
        except OSError:
            pytest.skip("AF_UNIX path too long here")
        with pytest.raises(NotRegularFileError, match="socket"):
            inspect_file(bucket / "s.sock", bucket, MAX)
    finally:
        s.close()
    (bucket / "d").mkdir()
    with pytest.raises(NotRegularFileError, match="directory"):
        inspect_file(bucket / "d", bucket, MAX)
    facts = inspect_file(bucket / "d", bucket, MAX, allow_dir=True)
    assert facts.is_dir and facts.sha256 == fingerprint_dir(bucket / "d")


def test_symlink_escape_rejected(bucket: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (bucket / "link.txt").symlink_to(outside)
    with pytest.raises(SymlinkEscapeError, match="link.txt"):
        inspect_file(bucket / "link.txt", bucket, MAX)
    # A sibling folder whose name starts like the bucket's is still outside.
    sibling = tmp_path / "bucket2"
    sibling.mkdir()
    (sibling / "x").write_text("x")
    (bucket / "link2").symlink_to(sibling / "x")
    with pytest.raises(SymlinkEscapeError):
        inspect_file(bucket / "link2", bucket, MAX)


def test_symlink_inside_bucket_followed(bucket: Path) -> None:
    (bucket / "sub").mkdir()
    target = bucket / "sub" / "real.txt"
    target.write_text("hello")
    link = bucket / "alias.txt"
    link.symlink_to("sub/real.txt")
    facts = inspect_file(link, bucket, MAX)
    assert facts.path == link and facts.real_path == target.resolve()
    assert facts.sha256 == hashlib.sha256(b"hello").hexdigest()


def test_symlinked_bucket_path_is_fine(tmp_path: Path, bucket: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(bucket)
    (bucket / "t.txt").write_text("x")
    (bucket / "l.txt").symlink_to(bucket / "t.txt")
    assert inspect_file(alias / "l.txt", alias, MAX).size == 1


def test_dangling_symlink_and_vanished(bucket: Path) -> None:
    (bucket / "dangling").symlink_to(bucket / "nope")
    with pytest.raises(FileVanishedError, match="dangling"):
        inspect_file(bucket / "dangling", bucket, MAX)
    with pytest.raises(FileVanishedError, match="gone.txt") as info:
        inspect_file(bucket / "gone.txt", bucket, MAX)
    assert info.value.transient


def test_empty_and_too_large(bucket: Path) -> None:
    (bucket / "empty.txt").touch()
    with pytest.raises(EmptyFileError, match="empty.txt"):
        inspect_file(bucket / "empty.txt", bucket, MAX)
    (bucket / "big.txt").write_bytes(b"x" * 3000)
    with pytest.raises(FileTooLargeError, match=r"big\.txt is 3\.0 kB, over the 2\.0 kB limit"):
        inspect_file(bucket / "big.txt", bucket, 2048)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads anything")
def test_permission_denied(bucket: Path) -> None:
    f = bucket / "locked.txt"
    f.write_text("x")
    f.chmod(0)
    try:
        with pytest.raises(PermissionDeniedError, match="locked.txt") as info:
            inspect_file(f, bucket, MAX)
        assert info.value.code == "EACCES"
    finally:
        f.chmod(0o644)


def test_fingerprint_dir_changes_with_content(tmp_path: Path) -> None:
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("a")
    before = fingerprint_dir(d)
    assert fingerprint_dir(d) == before
    (d / ".hidden").write_text("ignored")
    assert fingerprint_dir(d) == before
    (d / "sub" / "b.txt").write_text("b")
    after = fingerprint_dir(d)
    assert after != before
    os.utime(d / "a.txt", ns=(0, time.time_ns() - 10**10))
    assert fingerprint_dir(d) != after


# --- outputs -------------------------------------------------------------------------------


def test_resolve_output_dir(bucket: Path, tmp_path: Path) -> None:
    src = bucket / "x" / "y" / "f.txt"
    assert resolve_output_dir(bucket, src, "x/y/f.txt", None) == bucket / "x" / "y"
    assert resolve_output_dir(bucket, src, "x/y/f.txt", "notes") == bucket / "notes" / "x" / "y"
    assert resolve_output_dir(bucket, bucket / "f.txt", "f.txt", "notes") == bucket / "notes"
    absolute = tmp_path / "elsewhere"
    assert resolve_output_dir(bucket, src, "x/y/f.txt", str(absolute)) == absolute / "x" / "y"
    with pytest.raises(PathEscapeError):
        resolve_output_dir(bucket, src, "x/y/f.txt", "../out")
    with pytest.raises(PathEscapeError):
        resolve_output_dir(bucket, src, "x/y/f.txt", "a/../../out")


def test_output_dir_through_symlinked_folder_rejected(bucket: Path, tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (bucket / "out").symlink_to(tmp_path / "outside")
    with pytest.raises(PathEscapeError):
        resolve_output_dir(bucket, bucket / "f.txt", "f.txt", "out")
    with pytest.raises(PathEscapeError):
        resolve_move_target(bucket, "out/processed")
    assert resolve_move_target(bucket, "processed") == bucket / "processed"
    assert resolve_move_target(bucket, str(tmp_path / "done")) == tmp_path / "done"
    with pytest.raises(PathEscapeError):
        resolve_move_target(bucket, "../done")


def test_atomic_write_creates_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir" / "out.md"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two ✓")
    assert target.read_text(encoding="utf-8") == "two ✓"
    atomic_write_bytes(target, b"three", fsync=True)
    assert target.read_bytes() == b"three"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.md"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_atomic_write_failure_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "isdir"
    target.mkdir()  # os.replace onto a directory fails after the temp file was written
    with pytest.raises(OutputError, match="isdir") as info:
        atomic_write_text(target, "x")
    assert info.value.code in {"EISDIR", "EEXIST", "ENOTEMPTY"}
    assert [p.name for p in tmp_path.iterdir()] == ["isdir"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_atomic_write_read_only_folder(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputError) as info:
            atomic_write_text(ro / "n.md", "x")
        assert info.value.code == "EACCES" and "n.md" in info.value.message
    finally:
        ro.chmod(0o700)
    assert list(ro.iterdir()) == []


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
