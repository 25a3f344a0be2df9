"""Is some process still holding a file open for writing?

Used only on the slow path: when a file was created but no close-after-write arrived within the
debounce period (a paused writer, a hard link, a lost event). Reading /proc costs a few
milliseconds, so it runs in a worker thread and never per event.
"""

from __future__ import annotations

import os
import sys

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR


def is_open_for_write(path: str) -> bool | None:
    """True if any process we can see has `path` open for writing; None where we cannot tell."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        target = os.stat(path)
    except OSError:
        return False
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if st.st_ino != target.st_ino or st.st_dev != target.st_dev:
                continue
            try:
                with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                    for line in info:
                        if line.startswith("flags:"):
                            if int(line.split()[1], 8) & _WRITE_FLAGS:
                                return True
                            break
            except (OSError, ValueError):
                continue
    return False
