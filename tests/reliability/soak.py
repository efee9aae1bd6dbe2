"""A bounded soak with faults: gunicorn (2 workers), a Celery worker and beat, on their own
PostgreSQL and Redis, under mixed traffic while Redis is stopped and restarted, the worker is
killed and restarted, and PostgreSQL is restarted. Afterwards the invariants are checked.

    python tests/reliability/soak.py --duration 180 --out bench/results/soak.json

Everything it starts it stops. Traffic goes to 127.0.0.1 only, bounded in time.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mcp_token_verifier import TokenError, TokenVerifier
from tests.services import Postgres, _run
from tests.support.http import free_port

RESOURCE = "https://soak.example.com/mcp"
OTHER = "https://other.example.com/mcp"
PASSWORD = "soak-password-0123456789"
OAUTH_KINDS = {"cc", "code", "refresh", "revoke"}


def pkce_pair() -> tuple[str, str]:
    import base64
    import hashlib
    import secrets

    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


class RedisProc:
    """A redis-server on a fixed port, so a restart comes back where clients expect it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir, self.port = workdir, free_port()
        self.proc: subprocess.Popen | None = None
        workdir.mkdir()

    def start(self) -> None:
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1) as s,
            ):
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.1)
        raise RuntimeError("redis did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


class Stack:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.pg = Postgres(root / "pg", root / "setup.log")
        self.redis = RedisProc(root / "redis")
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.env: dict[str, str] = {}

    def manage(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env,
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return out.stdout

    def up(self) -> dict:
        database_url = self.pg.start()
        self.redis.start()
        (self.root / "metrics").mkdir()
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/0",
            "SECRET_KEY": "soak-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "KEY_ENCRYPTION_KEY": "soak-kek-0123456789abcdefghijklmnopqrstuvwxyz",
            "ISSUER": self.issuer,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "WARNING",
            "VAR_DIR": str(self.root / "var"),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": "2",
            "GUNICORN_THREADS": "4",
            "PROMETHEUS_MULTIPROC_DIR": str(self.root / "metrics"),
            "REVOCATION_LIST_LIFETIME": "60",
            "REGISTRATION_RATE_LIMIT": "0",
            # One client sends far more than a person's agent would; the per-client limit
            # has its own tests (tests/authserver/test_issuance_limit.py).
            "CLIENT_TOKEN_RATE_LIMIT": "0",
        }
        self.manage("migrate", "--noinput")
        self.manage(
            "add_resource",
            RESOURCE,
            "--name",
            "Soak",
            "--scope",
            "read=Read",
            "--default-scope",
            "read",
        )
        self.manage("add_resource", OTHER, "--name", "Other", "--scope", "read=Read")
        machine = json.loads(self.manage(
            "add_client", "--name", "soak-machine", "--confidential", "--grant",
            "client_credentials", "--resource", RESOURCE, "--scope", "read",
        ).strip().splitlines()[-1])  # fmt: skip
        app = json.loads(self.manage(
            "add_client", "--name", "soak-app", "--grant", "authorization_code", "--grant",
            "refresh_token", "--redirect-uri", "http://127.0.0.1/callback", "--trusted",
        ).strip().splitlines()[-1])  # fmt: skip
        self.manage("shell", "-c", (
            "from django.contrib.auth import get_user_model;"
            f"get_user_model().objects.create_user('soak', password='{PASSWORD}')"
        ))  # fmt: skip
        self.start_web()
        self.start_worker()
        self.start(
            "beat",
            [
                "celery",
                "-A",
                "authserver",
                "beat",
                "--loglevel",
                "WARNING",
                "--schedule",
                str(self.root / "beat"),
            ],
        )
        return {"machine": machine, "app": app}

    def start(self, name: str, argv: list[str]) -> None:
        log = (self.root / f"{name}.log").open("a")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", *argv], cwd=ROOT, env=self.env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def start_web(self) -> None:
        self.start("web", ["gunicorn", "authserver.wsgi", "--config", "deploy/gunicorn.conf.py"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.issuer + "/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError("web did not start")

    def start_worker(self) -> None:
        self.start(
            "worker",
            [
                "celery",
                "-A",
                "authserver",
                "worker",
                "--concurrency",
                "1",
                "--loglevel",
                "WARNING",
                "-n",
                f"soak{time.time():.0f}@%h",
            ],
        )

    def kill_worker(self) -> None:
        proc = self.procs["worker"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def restart_postgres(self) -> None:
        pg = self.pg
        cmd = [str(pg.bindir / "pg_ctl"), "restart", "-D", str(pg.data), "-m", "fast", "-w"]
        _run(cmd, pg.setup_log, "pg_ctl restart", 60, cwd=pg.workdir, **pg.as_user)

    def down(self) -> dict[str, int | None]:
        codes: dict[str, int | None] = {}
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                codes[name] = None
        self.redis.stop()
        self.pg.stop()
        return codes


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.responses: list[tuple[float, str, int, str]] = []  # t, kind, status, error
        self.issued: list[str] = []
        self.revoked_jtis: set[str] = set()
        self.bad_bodies: list[str] = []

    def add(self, t: float, kind: str, response: httpx.Response | None) -> None:
        if response is None:
            with self.lock:
                self.responses.append((t, kind, 0, "connection"))
            return
        error = ""
        if response.status_code >= 400 and kind in OAUTH_KINDS | {"jwks"}:
            try:
                error = response.json().get("error", "")
            except ValueError:
                error = ""
            if not error:
                with self.lock:
                    self.bad_bodies.append(f"{kind} {response.status_code}")
        with self.lock:
            self.responses.append((t, kind, response.status_code, error))


def claims_jti(token: str) -> str:
    import base64

    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["jti"]


def traffic(stack: Stack, seeds: dict, rec: Recorder, stop: threading.Event, seed: int) -> None:
    rnd = random.Random(seed)
    machine, app = seeds["machine"], seeds["app"]
    refresh_tokens: list[str] = []
    http = httpx.Client(base_url=stack.issuer, timeout=10)
    browser = httpx.Client(base_url=stack.issuer, timeout=10)
    logged_in = False

    def call(kind: str, fn):
        t = time.monotonic()
        try:
            response = fn()
        except httpx.HTTPError:
            response = None
        rec.add(t, kind, response)
        return response

    while not stop.is_set():
        roll = rnd.random()
        if roll < 0.45:
            r = call("cc", lambda: http.post(
                "/token", data={"grant_type": "client_credentials", "resource": RESOURCE},
                auth=(machine["client_id"], machine["client_secret"]),
            ))  # fmt: skip
            if r is not None and r.status_code == 200:
                token = r.json()["access_token"]
                with rec.lock:
                    rec.issued.append(token)
                if rnd.random() < 0.1:
                    rv = call("revoke", lambda: http.post(
                        "/revoke", data={"token": token},
                        auth=(machine["client_id"], machine["client_secret"]),
                    ))  # fmt: skip
                    if rv is not None and rv.status_code == 200:
                        with rec.lock:
                            rec.revoked_jtis.add(claims_jti(token))
        elif roll < 0.60:
            if not logged_in:
                page = call("login", lambda: browser.get("/accounts/login/"))
                if page is None or "csrftoken" not in browser.cookies:
                    continue
                r = call("login", lambda: browser.post("/accounts/login/", data={
                    "username": "soak", "password": PASSWORD,
                    "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                }))  # fmt: skip
                logged_in = r is not None and r.status_code == 302
                continue
            verifier, challenge = pkce_pair()
            query = urlencode({
                "response_type": "code", "client_id": app["client_id"],
                "redirect_uri": "http://127.0.0.1:9/callback", "state": "s",
                "code_challenge": challenge, "code_challenge_method": "S256",
                "resource": RESOURCE, "scope": "read offline_access",
            })  # fmt: skip
            r = call("authorize", lambda: browser.get(f"/authorize?{query}"))
            if r is None or r.status_code != 302:
                continue
            code = parse_qs(urlsplit(r.headers["Location"]).query).get("code", [""])[0]
            if not code:
                logged_in = "login" not in r.headers["Location"]
                continue
            r = call("code", lambda: http.post("/token", data={
                "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                "redirect_uri": "http://127.0.0.1:9/callback", "client_id": app["client_id"],
            }))  # fmt: skip
            if r is not None and r.status_code == 200:
                body = r.json()
                with rec.lock:
                    rec.issued.append(body["access_token"])
                refresh_tokens.append(body["refresh_token"])
        elif roll < 0.80 and refresh_tokens:
            old = refresh_tokens.pop()
            r = call("refresh", lambda: http.post("/token", data={
                "grant_type": "refresh_token", "refresh_token": old,
                "client_id": app["client_id"],
            }))  # fmt: skip
            if r is not None and r.status_code == 200:
                body = r.json()
                with rec.lock:
                    rec.issued.append(body["access_token"])
                refresh_tokens.append(body["refresh_token"])
        else:
            call("jwks", lambda: http.get("/.well-known/jwks.json"))


def run(duration: float, threads: int = 6) -> dict:
    root = Path(tempfile.mkdtemp(prefix="authserver-soak-"))
    root.chmod(0o755)
    stack = Stack(root)
    rec = Recorder()
    faults: list[dict] = []
    codes: dict = {}
    try:
        seeds = stack.up()
        stop = threading.Event()
        workers = [
            threading.Thread(target=traffic, args=(stack, seeds, rec, stop, i), daemon=True)
            for i in range(threads)
        ]
        start = time.monotonic()
        for w in workers:
            w.start()

        def at(fraction: float) -> None:
            time.sleep(max(0.0, start + duration * fraction - time.monotonic()))

        def fault(name: str, action, restore, outage: float) -> None:
            t0 = time.monotonic()
            action()
            time.sleep(outage)
            restore()
            faults.append({"fault": name, "start": t0 - start, "end": time.monotonic() - start})

        at(0.15)
        fault("redis stopped", stack.redis.stop, stack.redis.start, min(10.0, duration * 0.1))
        at(0.40)
        fault(
            "celery worker killed", stack.kill_worker, stack.start_worker, min(5.0, duration * 0.05)
        )
        at(0.60)
        fault("postgresql restarted", stack.restart_postgres, lambda: None, 0)
        at(1.0)
        stop.set()
        for w in workers:
            w.join(30)
        # Let the recovered worker publish what was revoked while it was down.
        time.sleep(3)
        report = check(stack, rec, faults, time.monotonic() - start)
    finally:
        codes = stack.down()
        shutil.rmtree(root, ignore_errors=True)
    report["shutdown_exit_codes"] = codes
    return report


def check(stack: Stack, rec: Recorder, faults: list[dict], elapsed: float) -> dict:
    by_status = collections.Counter(status for _, _, status, _ in rec.responses)
    by_kind = collections.Counter(kind for _, kind, _, _ in rec.responses)
    errors = collections.Counter(
        f"{kind} {status} {error}" for _, kind, status, error in rec.responses if status >= 400
    )
    verifier = TokenVerifier(
        issuer=stack.issuer, resource=RESOURCE, revocation_list_uri=f"{stack.issuer}/revocations"
    )
    wrong = TokenVerifier(issuer=stack.issuer, resource=OTHER)
    verified = revoked = failed = 0
    wrong_audience_accepted = 0
    for token in rec.issued:
        try:
            verifier.verify(token)
            verified += 1
        except TokenError as exc:
            if "revoked" in exc.description:
                revoked += 1
            else:
                failed += 1
        try:
            wrong.verify(token)
            wrong_audience_accepted += 1
        except TokenError:
            pass
    listed = httpx.get(stack.issuer + "/revocations", timeout=10).text
    import base64

    payload = listed.split(".")[1]
    published = set(
        json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]
    )
    # After the faults: the last 15% of the run must be clean.
    tail_start = max(f["end"] for f in faults) + 5 if faults else 0
    t0 = min((t for t, *_ in rec.responses), default=0)
    tail = [(k, s) for t, k, s, _ in rec.responses if t - t0 > tail_start]
    tail_errors = [f"{k} {s}" for k, s in tail if s >= 500 or s == 0]
    return {
        "seconds": round(elapsed, 1),
        "requests": len(rec.responses),
        "requests_by_kind": dict(by_kind),
        "responses_by_status": {str(k): v for k, v in sorted(by_status.items())},
        "errors": dict(errors.most_common()),
        "faults": faults,
        "tokens_issued": len(rec.issued),
        "tokens_verified": verified,
        "tokens_listed_revoked": revoked,
        "tokens_failing_otherwise": failed,
        "wrong_audience_accepted": wrong_audience_accepted,
        "revocations_made": len(rec.revoked_jtis),
        "revocations_published": len(rec.revoked_jtis & published),
        "server_errors_500": by_status.get(500, 0),
        "non_json_error_bodies": rec.bad_bodies[:20],
        "tail_requests": len(tail),
        "tail_errors": tail_errors[:20],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=180)
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    report = run(args.duration, args.threads)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    ok = (
        report["server_errors_500"] == 0
        and report["wrong_audience_accepted"] == 0
        and report["tokens_failing_otherwise"] == 0
        and report["revocations_made"] == report["revocations_published"]
        and not report["tail_errors"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
