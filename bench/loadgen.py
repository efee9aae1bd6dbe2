"""Drive HTTP load from a second process: Debian's wrk with our Lua scripts, or, when wrk is
missing, a small asyncio generator (keep-alive HTTP/1.1 over raw streams, no client library
in the way). Both report requests/s, p50/p90/p99 and errors (socket errors and HTTP >= 400).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

LUA = Path(__file__).resolve().parent / "lua"
WHOLE_BODY = "-"  # pool_client_id meaning: each pool entry is a whole request body


@dataclass
class Case:
    """One load case: a fixed request, or a refresh-token pool (one token per request)."""

    key: str
    title: str
    path: str
    method: str = "GET"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Refresh tokens (the request body is built per token), or whole bodies (WHOLE_BODY).
    pool: list[str] | None = None
    pool_client_id: str = ""
    expect: tuple[int, ...] = (200,)
    rate: int = 0  # requests per second offered in all (lua/paced.lua); 0: as fast as it goes


@dataclass
class Result:
    key: str
    title: str
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    error_detail: dict[str, int]
    tool: str
    connections: int
    used_from_pool: int = 0
    pool_exhausted: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def refresh_body(client_id: str, token: str) -> bytes:
    return f"grant_type=refresh_token&client_id={client_id}&refresh_token={token}".encode()


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def ensure_wrk() -> bool:
    """Install Debian's wrk when missing and we are root; False means use the fallback."""
    if wrk_available():
        return True
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def apt(*args: str) -> int:
        cmd = ["apt-get", *args]
        return subprocess.run(
            cmd, env=env, capture_output=True, timeout=900, check=False
        ).returncode

    if apt("install", "-y", "wrk") != 0:  # an old or missing package list: update once
        apt("update")
        apt("install", "-y", "wrk")
    return wrk_available()


class LoadGenerator:
    def __init__(self, *, connections: int = 16, threads: int = 2, use_wrk: bool = True) -> None:
        self.connections = connections
        self.threads = threads
        self.use_wrk = use_wrk and wrk_available()

    def run(self, base_url: str, case: Case, duration: float) -> Result:
        if self.use_wrk:
            return self._run_wrk(base_url, case, duration)
        return asyncio.run(self._run_python(base_url, case, duration))

    # --- wrk -------------------------------------------------------------------------------

    def _run_wrk(self, base_url: str, case: Case, duration: float) -> Result:
        with tempfile.TemporaryDirectory(prefix="authserver-bench-wrk-") as tmp:
            script = Path(tmp) / "case.lua"
            name = "refresh.lua" if case.pool is not None else "request.lua"
            name = "paced.lua" if case.rate else name
            script.write_text((LUA / name).read_text() + "\n" + (LUA / "report.lua").read_text())
            cmd = ["wrk", "-t", str(self.threads), "-c", str(self.connections)]
            cmd += ["-d", f"{max(1, round(duration))}s", "--timeout", "10s", "-s", str(script)]
            for name_, value in case.headers.items():
                cmd += ["-H", f"{name_}: {value}"]
            cmd += [base_url + case.path, "--"]
            if case.pool is not None:
                pool = Path(tmp) / "pool.txt"
                pool.write_text("\n".join(case.pool) + "\n")
                cmd += [str(pool), case.pool_client_id, str(self.threads)]
            else:
                body = Path(tmp) / "body"
                body.write_bytes(case.body)
                cmd += [case.method, str(body) if case.body else ""]
                cmd += [str(case.rate), str(self.threads)] if case.rate else []
            out = _run_wrk_process(cmd, timeout=duration + 60)
        line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no result for {case.key}:\n{out[-2000:]}")
        data = json.loads(line.removeprefix("BENCH_JSON "))
        detail = {k: data[k] for k in ("connect", "read", "write", "status", "timeout")}
        seconds = data["duration_us"] / 1e6
        return Result(
            key=case.key,
            title=case.title,
            requests=data["requests"],
            duration_s=round(seconds, 2),
            rps=round(data["requests"] / seconds, 1) if seconds else 0.0,
            p50_ms=data["p50_us"] / 1000,
            p90_ms=data["p90_us"] / 1000,
            p99_ms=data["p99_us"] / 1000,
            max_ms=data["max_us"] / 1000,
            errors=sum(detail.values()),
            error_detail=detail,
            tool="wrk",
            connections=self.connections,
            used_from_pool=data["max_used_per_thread"] * data["threads"],
            pool_exhausted=data["exhausted"],
        )

    # --- asyncio fallback ------------------------------------------------------------------

    async def _run_python(self, base_url: str, case: Case, duration: float) -> Result:
        host, port = base_url.removeprefix("http://").split(":")
        pool = iter(case.pool) if case.pool is not None else None
        latencies: list[float] = []
        errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
        state = {"used": 0, "exhausted": False}
        deadline = time.perf_counter() + duration

        def next_request() -> bytes | None:
            body = case.body
            if pool is not None:
                token = next(pool, None)
                if token is None:
                    state["exhausted"] = True
                    return None
                state["used"] += 1
                if case.pool_client_id == WHOLE_BODY:
                    body = token.encode()
                else:
                    body = refresh_body(case.pool_client_id, token)
            head = [f"{case.method} {case.path} HTTP/1.1", f"Host: {host}:{port}"]
            head += [f"{k}: {v}" for k, v in case.headers.items()]
            if case.pool is not None:
                head.append("Content-Type: application/x-www-form-urlencoded")
            if body or case.method == "POST":
                head.append(f"Content-Length: {len(body)}")
            return ("\r\n".join(head) + "\r\n\r\n").encode() + body

        async def worker(index: int) -> None:
            interval = self.connections / case.rate if case.rate else 0.0
            next_at = time.perf_counter() + interval * index / self.connections
            try:
                reader, writer = await asyncio.open_connection(host, int(port))
            except OSError:
                errors["connect"] += 1
                return
            try:
                while time.perf_counter() < deadline:
                    if interval:  # paced: this connection's share of case.rate
                        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                        next_at += interval
                    request = next_request()
                    if request is None:
                        return
                    started = time.perf_counter()
                    writer.write(request)
                    await writer.drain()
                    status = await asyncio.wait_for(_read_response(reader), 10)
                    latencies.append(time.perf_counter() - started)
                    if status >= 400:
                        errors["status"] += 1
            except TimeoutError:
                errors["timeout"] += 1
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors["read"] += 1
            finally:
                writer.close()

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(self.connections)))
        elapsed = time.perf_counter() - started
        latencies.sort()

        def pct(p: float) -> float:
            if not latencies:
                return 0.0
            return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

        return Result(
            key=case.key,
            title=case.title,
            requests=len(latencies),
            duration_s=round(elapsed, 2),
            rps=round(len(latencies) / elapsed, 1),
            p50_ms=round(pct(50), 3),
            p90_ms=round(pct(90), 3),
            p99_ms=round(pct(99), 3),
            max_ms=round(latencies[-1] * 1000, 3) if latencies else 0.0,
            errors=sum(errors.values()),
            error_detail=errors,
            tool="python-asyncio",
            connections=self.connections,
            used_from_pool=state["used"],
            pool_exhausted=state["exhausted"],
        )


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (Content-Length or chunked); return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif status not in (204, 304):
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status


def _run_wrk_process(cmd: list[str], *, timeout: float) -> str:
    """Run wrk in its own process group, so an interrupt here never leaves it running."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if proc.returncode != 0:
        print(out, file=sys.stderr)
        raise RuntimeError(f"wrk exited with status {proc.returncode}")
    return out


def timed(fn: Callable[[], object], seconds: float) -> tuple[int, float]:
    """Call ``fn`` repeatedly for about ``seconds``; return (calls, elapsed)."""
    calls = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(50):
            fn()
        calls += 50
        now = time.perf_counter()
        if now >= deadline:
            return calls, now - started
