"""Run a function in a forked child and read its text answer back through a pipe.

Work for the other core that shares no GIL with us: the docs folder's fingerprint beside the
imports of a cold start (`preload`), or half of a large folder's `stat` calls (`fingerprint`).
Standard library only, so it can be used before any heavy import.
"""

from __future__ import annotations

import gc
import os
import signal
import threading
import warnings
from typing import Callable

# Python 3.12+ warns at every fork of a process with threads; the child runs only standard-library code
# of ours and leaves by os._exit. Filtered once here: warnings.catch_warnings() is not thread-safe.
warnings.filterwarnings("ignore", message=r"This process .* is multi-threaded, use of fork\(\) may lead to deadlocks",
                        category=DeprecationWarning)


class Forked:
    """A child computing one short text; `result()` reads it once and reaps the child."""

    def __init__(self, pid: int, fd: int):
        self.pid, self.fd = pid, fd

    def result(self) -> str | None:
        """The child's answer, or None when it gave none (it failed or was killed)."""
        chunks = []
        try:
            while chunk := os.read(self.fd, 65536):
                chunks.append(chunk)
        except OSError:
            chunks = []
        finally:
            self.close()
        data = b"".join(chunks)
        return data[:-1].decode("utf-8", "replace") if data.endswith(_END) else None  # complete answers only

    def close(self, read: bool = True) -> None:
        """Reap the child (no zombie left); one whose answer nobody will read is killed first, so an
        error that ends the work early is not held up by a scan of a million files."""
        if self.pid < 0:
            return
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
            if not read:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        pid, self.pid = self.pid, -1
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == 0:  # still unmapping its copy of our memory (about 5 ms)
                threading.Thread(target=_reap, args=(pid,), name="qa-bot-reap", daemon=True).start()
        except ChildProcessError:
            pass


_END = b"\0"  # written after the answer: an answer cut short by a dying child has no end mark


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def fork_call(fn: Callable[[], str]) -> Forked | None:
    """Start a child that runs `fn` and writes its answer; None where fork is not available or fails.

    The child runs only `fn` and leaves by `os._exit`, without the parent's exit handlers or any
    lock another thread of the parent may hold at the fork (it uses the standard library only).
    """
    if not hasattr(os, "fork"):
        return None
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return None
    # Ctrl-C between the fork and the child's `try` must not leave a second copy of the CLI running:
    # SIGINT is held back across the fork, and the child takes its default action (die) for it.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if hasattr(signal, "pthread_sigmask") else None
    pid = -1
    try:
        pid = os.fork()
    except Exception:  # noqa: BLE001 - no child: the caller does the work itself
        pass
    if pid == 0:  # the child: the answer, and out
        code = 1
        try:
            gc.disable()  # no finaliser of the parent's objects (SQLite connections, maps) runs in the child
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            if mask is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            os.close(read_fd)
            data = fn().encode("utf-8") + _END
            while data:
                data = data[os.write(write_fd, data):]
            os.close(write_fd)  # the parent reads the end of the answer now, not after our exit
            code = 0
        except BaseException:  # noqa: BLE001 - the parent computes it itself
            pass
        finally:
            os._exit(code)
    try:
        os.close(write_fd)
        if pid < 0:
            os.close(read_fd)
            return None
        return Forked(pid, read_fd)
    finally:
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # the caller's own mask, as it was
