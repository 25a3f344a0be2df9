"""One runner per bucket (without cluster mode): two runners with different state dirs on one
bucket would both process every file, and race to move them.

A runner holds, for each bucket it watches, an exclusive `flock` on
`<temp dir>/obtui-bucket-locks/<device>-<inode>.lock`, holding "pid\nstate dir" of the holder for
the message the second runner gives. Keyed by the folder's device and inode, it is the same lock
whatever path (symlink, bind mount) a runner uses, and it works for a read-only bucket; the
folder is shared by every user of the host (sticky, like /tmp). A lock dies with its process, so
a crashed runner never leaves a bucket locked.

Why not a lock file inside the bucket (which runners in other containers or on other hosts would
see too)? It needs an open descriptor in the bucket for as long as the runner runs, and an open
file below a folder keeps the kernel from reporting the folder's deletion (IN_DELETE_SELF comes
only when the last reference goes), so a deleted bucket would go unnoticed; and it cannot be
created on a read-only share. Runners on several hosts share buckets in cluster mode.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
from pathlib import Path
from typing import IO

from obtui.config.model import Config
from obtui.tracking.runtime_files import RunnerLockedError, acquire_runner_lock

log = logging.getLogger("obtui.engine")

HOST_LOCK_DIR = "obtui-bucket-locks"


class BucketLockedError(RunnerLockedError):
    """Another runner processes this bucket."""


def _host_lock_dir() -> Path | None:
    folder = Path(tempfile.gettempdir()) / HOST_LOCK_DIR
    try:
        folder.mkdir(exist_ok=True)
        if folder.stat().st_uid == os.getuid():
            folder.chmod(0o1777)  # every user's runners meet here (sticky: none removes another's)
    except OSError:
        return None
    return folder


def _open(path: Path) -> int | None:
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):  # flock works on a read-only descriptor too
        try:
            return os.open(path, flags | os.O_CLOEXEC, 0o644)
        except OSError:
            continue
    return None


def _holder(path: Path) -> str:
    try:
        pid, _, state = path.read_text(encoding="utf-8", errors="replace").partition("\n")
    except OSError:
        return "another process"
    pid, state = pid.strip(), state.strip()
    if not pid:
        return "another process"
    return f"pid {pid}, state dir {state}" if state else f"pid {pid}"


class BucketLocks:
    """The bucket locks of one runner. `take` and `release` run on the engine loop."""

    def __init__(self, state_dir: Path, *, enabled: bool = True) -> None:
        self.state_dir = state_dir
        self.enabled = enabled
        self._held: dict[str, list[int]] = {}  # bucket -> descriptors holding its locks
        self._keys: dict[tuple[int, int], str] = {}  # (device, inode) of held buckets -> bucket

    def take(self, bucket: str) -> None:
        """Lock `bucket` for this runner (nothing when it is held already, or when the bucket is
        missing: it is taken when the bucket comes back). Raises BucketLockedError."""
        if not self.enabled or bucket in self._held:
            return
        try:
            st = os.stat(bucket)
        except OSError:
            return
        key = (st.st_dev, st.st_ino)
        if key in self._keys:  # the same folder under another name: one runner, one lock
            self._held[bucket] = []
            return
        host = _host_lock_dir()
        files = [host / f"{st.st_dev:x}-{st.st_ino:x}.lock"] if host is not None else []
        fds: list[int] = []
        try:
            for path in files:
                fd = _open(path)
                if fd is None:
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    raise BucketLockedError(
                        f"another obtui runner ({_holder(path)}) is already processing the bucket "
                        f"{bucket}; two runners on one bucket would both process every file. "
                        "Stop it first, or leave this bucket to it"
                    ) from None
                fds.append(fd)
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, f"{os.getpid()}\n{self.state_dir}\n".encode(), 0)
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        if not fds:
            log.warning(
                "cannot lock the bucket %s (read-only, no temp dir?); not guarded against a second runner",
                bucket,
            )
        self._held[bucket] = fds
        self._keys[key] = bucket

    def take_all(self, buckets: list[str]) -> None:
        """`take` each bucket; on a refusal, release what was taken and raise."""
        try:
            for b in buckets:
                self.take(b)
        except BaseException:
            self.release_all()
            raise

    def release(self, bucket: str) -> None:
        for fd in self._held.pop(bucket, []):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._keys = {k: b for k, b in self._keys.items() if b != bucket}

    def release_all(self) -> None:
        for bucket in list(self._held):
            self.release(bucket)


class RunnerLocks:
    """What a runner holds while it runs: its state dir's lock and its buckets' locks."""

    def __init__(self, state: IO[str], buckets: BucketLocks) -> None:
        self._state = state
        self.buckets = buckets

    def close(self) -> None:
        """Release the bucket locks, then the state dir's."""
        self.buckets.release_all()
        self._state.close()


def acquire_runner_locks(state_dir: Path, config: Config) -> RunnerLocks:
    """The state dir's lock (RunnerLockedError when another runner uses it), then one lock per
    configured bucket (BucketLockedError naming the runner that has it; none is then kept).
    Without bucket locks in cluster mode, where the hosts share buckets."""
    state = acquire_runner_lock(state_dir)
    buckets = BucketLocks(state_dir, enabled=config.cluster is None or not config.cluster.enabled)
    try:
        buckets.take_all([str(b.path) for b in config.buckets])
    except BaseException:
        state.close()
        raise
    return RunnerLocks(state, buckets)
