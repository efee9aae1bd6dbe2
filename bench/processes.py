"""The servers the bench starts (gunicorn, node), each in its own process group, and the
promise to stop every one of them: on success, errors, Ctrl-C and SIGTERM alike."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Processes:
    """Everything started here; ``stop_all()`` ends them (process groups, TERM then KILL)."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logdir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches us; we stop it in order
        )
        log.close()
        self._procs.append((name, proc))
        return proc

    def gunicorn(self, name: str, app: str, port: int, env: dict[str, str]):
        env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2"}
        cmd = [str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "bench" / "gunicorn.conf.py"), app]
        proc = self.start(name, cmd, env)
        wait_http(f"http://127.0.0.1:{port}/healthz", proc, self.log_of(name), any_status=True)
        return proc

    def node_provider(self, port: int, *, client_id: str, secret: str, resource: str):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PORT": str(port),
            "WORKERS": "2",
            "CLIENT_ID": client_id,
            "CLIENT_SECRET": secret,
            "RESOURCE": resource,
            "NODE_ENV": "production",
        }
        cmd = ["node", str(ROOT / "bench" / "oidc-provider" / "server.mjs")]
        proc = self.start("oidc-provider", cmd, env)
        wait_http(f"http://127.0.0.1:{port}/jwks", proc, self.log_of("oidc-provider"))
        return proc

    def log_of(self, name: str) -> Path:
        return self.logdir / f"{name}.log"

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(25)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        # Stragglers of the group (a worker whose master died first).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        self._procs = [(n, p) for n, p in self._procs if p is not proc]

    def stop_all(self) -> None:
        for _name, proc in reversed(list(self._procs)):
            try:
                self.stop(proc)
            except Exception as exc:  # keep stopping the others
                print(f"[bench] could not stop pid {proc.pid}: {exc!r}", flush=True)


def wait_http(
    url: str, proc: subprocess.Popen[bytes], log: Path, *, timeout: float = 60, any_status=False
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited ({proc.returncode}):\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 -- our loopback URL
                return
        except urllib.error.HTTPError:
            if any_status:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s:\n{_tail(log)}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
