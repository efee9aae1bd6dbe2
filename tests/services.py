#!/usr/bin/env python3
"""Run a command against a throwaway PostgreSQL cluster and redis-server.

Usage::

    python tests/services.py -- pytest -x ...

Starts a private PostgreSQL cluster and a ``redis-server`` on free 127.0.0.1 ports, exports
``DATABASE_URL=postgres://authserver@127.0.0.1:PORT/authserver`` and
``REDIS_URL=redis://127.0.0.1:PORT/0`` to the command, runs it, then stops both services and
removes their temp dir -- also on Ctrl-C, SIGTERM/SIGHUP and errors -- and exits with the
command's exit status (128+N if it died from signal N).

Missing servers are installed from Debian packages (``postgresql``, ``redis-server``) when
running as root. PostgreSQL refuses to run as root, so as root the cluster runs as the
unprivileged system user ``authserver-pg`` (created on demand). The database user
``authserver`` is a superuser, so pytest-django can create ``test_authserver`` itself.

Library use (e.g. from a benchmark)::

    from tests.services import running_services  # or add tests/ to sys.path

    with running_services() as env:  # {"DATABASE_URL": ..., "REDIS_URL": ...}
        ...

Stdlib only; no Django imports.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DB_USER = "authserver"  # database superuser created by initdb
DB_NAME = "authserver"
OS_USER = "authserver-pg"  # OS account running the postmaster when we are root
TIMEOUT = 30  # seconds, for every wait on a service
_HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_apt_state = {"updated": False}


class ServiceError(RuntimeError):
    """A service could not be installed, started or reached."""


class Terminated(BaseException):  # like KeyboardInterrupt: not caught by "except Exception"
    """Raised in the main thread when SIGTERM/SIGHUP arrives while services run."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _log(msg: str) -> None:
    print(f"[services] {msg}", file=sys.stderr, flush=True)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(f"    | {line}" for line in text) or "    | (empty)"


def _run(cmd: list[str], log: Path, what: str, timeout: float = TIMEOUT, **kw: Any) -> None:
    """Run ``cmd`` with output appended to ``log``; raise ServiceError on failure/timeout."""
    with log.open("ab") as fh:
        try:
            rc = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                timeout=timeout, check=False, **kw,
            ).returncode  # fmt: skip
        except subprocess.TimeoutExpired:
            rc = None
    if rc != 0:
        status = f"timed out after {timeout:.0f}s" if rc is None else f"exit status {rc}"
        raise ServiceError(f"{what} failed ({status}): {shlex.join(cmd)}\n{_tail(log)}")


def _is_root() -> bool:
    return os.geteuid() == 0


def _apt_install(package: str, probe: str) -> None:
    if not _is_root() or shutil.which("apt-get") is None:
        raise ServiceError(
            f"{probe} not found and cannot install it automatically (needs root + apt-get);"
            f" install the Debian package {package!r} or put {probe} on PATH"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_state["updated"]:
        _log("apt-get update")
        subprocess.run(["apt-get", "update"], env=env, check=True, timeout=900)
        _apt_state["updated"] = True
    _log(f"apt-get install -y {package}")
    subprocess.run(["apt-get", "install", "-y", package], env=env, check=True, timeout=1800)


def _pg_bindir() -> Path | None:
    tools = [shutil.which(name) for name in ("initdb", "pg_ctl", "postgres")]
    if all(tools):  # resolve symlinks so createdb comes from the same installation
        return Path(os.path.realpath(tools[0])).parent  # type: ignore[arg-type]

    def version(bindir: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in bindir.parent.name.split(".") if p.isdigit())

    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    return max(found, key=version) if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _os_user() -> pwd.struct_passwd:
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(OS_USER)
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    cmd = [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OS_USER]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    try:
        return pwd.getpwnam(OS_USER)  # also fine if a concurrent run created it
    except KeyError:
        raise ServiceError(f"could not create user {OS_USER}: {proc.stderr.strip()}") from None


class Postgres:
    """A throwaway cluster in ``workdir``; ``stop()`` is safe after a partial ``start()``."""

    def __init__(self, workdir: Path, setup_log: Path) -> None:
        self.workdir, self.setup_log = workdir, setup_log
        self.data, self.log = workdir / "data", workdir / "postgres.log"
        self.bindir: Path | None = None
        self.as_user: dict[str, Any] = {}

    def start(self) -> str:
        self.bindir = _pg_bindir()
        if self.bindir is None:
            _apt_install("postgresql", "initdb")
            self.bindir = _pg_bindir()
            if self.bindir is None:
                raise ServiceError("postgresql installed but no initdb under /usr/lib/postgresql")
        self.workdir.mkdir()
        sockdir = self.workdir / "sock"
        sockdir.mkdir()
        if _is_root():
            pw = _os_user()
            self.as_user = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
            for path in (self.workdir, sockdir):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        kw = {**self.as_user, "env": env, "cwd": self.workdir}
        initdb = [str(self.bindir / "initdb"), "-D", str(self.data), "-U", DB_USER]
        initdb += ["--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]
        _run(initdb, self.setup_log, "initdb", timeout=120, **kw)
        port = _free_port()
        opts = f"-h 127.0.0.1 -p {port} -k {shlex.quote(str(sockdir))}"
        opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        start = [str(self.bindir / "pg_ctl"), "start", "-w", "-t", str(TIMEOUT)]
        start += ["-D", str(self.data), "-l", str(self.log), "-o", opts]
        try:  # own session: a terminal Ctrl-C must not kill the server before the tests end
            _run(start, self.setup_log, "pg_ctl start", TIMEOUT + 10, start_new_session=True, **kw)
        except ServiceError as exc:
            raise ServiceError(f"{exc}\n  server log {self.log}:\n{_tail(self.log)}") from None
        createdb = str(self.bindir / "createdb")
        if not os.access(createdb, os.X_OK):
            createdb = shutil.which("createdb") or createdb
        cmd = [createdb, "-h", "127.0.0.1", "-p", str(port), "-U", DB_USER, DB_NAME]
        _run(cmd, self.setup_log, "createdb", env=env)
        return f"postgres://{DB_USER}@127.0.0.1:{port}/{DB_NAME}"

    def stop(self) -> None:
        pidfile = self.data / "postmaster.pid"
        if self.bindir is None or not pidfile.exists():
            return
        kw = {**self.as_user, "cwd": self.workdir}
        for mode in ("fast", "immediate"):
            cmd = [str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", mode, "-w"]
            try:
                _run([*cmd, "-t", str(TIMEOUT)], self.setup_log, f"pg_ctl stop -m {mode}", **kw)
                return
            except (ServiceError, OSError) as exc:
                _log(str(exc))
        with contextlib.suppress(OSError, ValueError, IndexError):
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
            _log("postgres did not stop; sent SIGKILL to the postmaster")


class Redis:
    """A non-persistent redis-server in ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir, self.log = workdir, workdir / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        exe = shutil.which("redis-server")
        if exe is None:
            _apt_install("redis-server", "redis-server")
            exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.workdir.mkdir()
        port = _free_port()
        cmd = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        cmd += ["no", "--daemonize", "no", "--dir", str(self.workdir)]
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                cwd=self.workdir, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServiceError(
                    f"redis-server exited ({self.proc.returncode}):\n{_tail(self.log)}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), 1) as s,
            ):
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return f"redis://127.0.0.1:{port}/0"
            time.sleep(0.1)
        raise ServiceError(f"redis-server did not answer PING in {TIMEOUT}s:\n{_tail(self.log)}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(TIMEOUT)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Keep a second Ctrl-C/SIGTERM from interrupting cleanup."""
    if not _in_main_thread():
        yield
        return
    sigs = (signal.SIGINT, *_HANDLED_SIGNALS)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _raise_terminated(signum: int, _frame: object) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def running_services() -> Iterator[dict[str, str]]:
    """Start PostgreSQL + Redis; yield ``{"DATABASE_URL": ..., "REDIS_URL": ...}``."""
    root = Path(tempfile.mkdtemp(prefix="authserver-services-"))
    root.chmod(0o755)  # the postgres OS user must traverse it
    postgres, redis = Postgres(root / "pg", root / "setup.log"), Redis(root / "redis")
    previous: dict[int, Any] = {}
    if _in_main_thread():  # SIGTERM/SIGHUP -> exception, so the finally below runs
        for sig in _HANDLED_SIGNALS:
            if signal.getsignal(sig) == signal.SIG_DFL:
                previous[sig] = signal.signal(sig, _raise_terminated)
    try:
        env = {"DATABASE_URL": postgres.start(), "REDIS_URL": redis.start()}
        yield env
    finally:
        with _signals_ignored():
            for stop in (redis.stop, postgres.stop):
                try:
                    stop()
                except Exception as exc:  # keep cleaning up
                    _log(f"error while stopping a service: {exc!r}")
            shutil.rmtree(root, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_child(cmd: list[str], env: dict[str, str]) -> int:
    """Run ``cmd``; on Ctrl-C/SIGTERM pass the signal on, wait (bounded), then re-raise.

    Without a terminal the child gets its own process group, so a SIGTERM to the harness
    reaches the child's whole process tree and stragglers are swept up afterwards. With a
    terminal it stays in the foreground group (Ctrl-C reaches it directly; pdb works).
    """
    own_group = not sys.stdin.isatty()
    try:
        proc = subprocess.Popen(cmd, env=env, process_group=0 if own_group else None)
    except OSError as exc:
        _log(f"cannot run {cmd[0]!r}: {exc}")
        return 127

    def signal_child(signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if own_group:
                os.killpg(proc.pid, signum)
            elif proc.poll() is None:
                proc.send_signal(signum)

    try:
        rc = proc.wait()
    except (KeyboardInterrupt, Terminated) as exc:
        signum = exc.signum if isinstance(exc, Terminated) else signal.SIGINT
        with _signals_ignored():
            if signum == signal.SIGINT and not own_group:  # Ctrl-C already reached it
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
            signal_child(signum)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                signal_child(signal.SIGKILL)
                proc.wait()
        raise
    finally:
        if own_group:  # leftovers (e.g. a server a test forgot) would keep pipes open
            signal_child(signal.SIGTERM)
    return rc if rc >= 0 else 128 - rc


def main(argv: list[str]) -> int:
    cmd = argv[1:]
    if cmd[:1] == ["--"]:
        cmd = cmd[1:]
    if not cmd or cmd[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with running_services() as env:
            _log(f"DATABASE_URL={env['DATABASE_URL']} REDIS_URL={env['REDIS_URL']}")
            return _run_child(cmd, {**os.environ, **env})
    except ServiceError as exc:
        _log(f"error: {exc}")
        return 1
    except Terminated as exc:
        _log(f"terminated by signal {exc.signum}; services stopped")
        return 128 + exc.signum
    except KeyboardInterrupt:
        _log("interrupted; services stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv))
