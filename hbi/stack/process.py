"""Start, find and stop detached server processes recorded in pid files."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


class StackError(RuntimeError):
    """A local server did not start or stop as asked; the message carries its log's tail."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    """Return whether something accepts connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def running_pid(pid_file: Path, marker: str) -> int | None:
    """Return the pid recorded in pid_file if that process is alive and is the one we started.

    The marker (a path unique to this server) guards against a recycled pid that now belongs
    to some other program.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    if marker not in _cmdline(pid) and marker not in _environ(pid):
        return None
    return pid


def _environ(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def spawn(
    cmd: list[str], *, env: dict[str, str], log_file: Path, pid_file: Path, cwd: Path
) -> subprocess.Popen:
    """Start cmd in its own session (it outlives the CLI), logging to log_file; return it."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_file.write_text(str(proc.pid))
    return proc


def log_tail(log_file: Path, lines: int = 30) -> str:
    """Return the last lines of a log file, for error messages."""
    try:
        return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    alive: Callable[[], bool],
    log_file: Path,
) -> None:
    """Poll ready() until it is true; fail early with the log's tail if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not alive():
            raise StackError(f"{what} exited during start-up. Its log ends:\n{log_tail(log_file)}")
        time.sleep(0.3)
    raise StackError(
        f"{what} did not answer within {timeout:.0f}s. Its log ends:\n{log_tail(log_file)}"
    )


def stop(pid: int, pid_file: Path, *, timeout: float = 60.0) -> None:
    """Stop a server cleanly with SIGTERM, escalating to SIGKILL only if it does not exit."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                pid_file.unlink(missing_ok=True)
                return
            time.sleep(0.2)
    if _alive(pid):
        raise StackError(f"process {pid} did not exit")
    pid_file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    # Reap the server if this process started it, so it does not linger as a zombie.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    try:
        return status.read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return False
