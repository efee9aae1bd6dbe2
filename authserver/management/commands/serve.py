"""Run the web server and the background jobs (Celery worker with embedded beat) together.

This is what ``make run`` starts. Production deployments run gunicorn, the worker and beat
as separate processes instead (see deploy/).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from authserver import firstrun, version


def default_bind(issuer: str) -> str:
    """Where ``make run`` listens: the issuer's own host:port when that is loopback http (so
    ``ISSUER=http://127.0.0.1:9000 make run`` serves what it advertises), else 127.0.0.1:8000."""
    parts = urlsplit(issuer)
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost"):
        return f"{parts.hostname}:{parts.port or 80}"
    return "127.0.0.1:8000"


def answering(bind: str, web: subprocess.Popen, *, timeout: float) -> bool:
    """Wait until ``bind`` accepts a connection (or ``web`` exits, or ``timeout`` passes)."""
    host, _, port = bind.rpartition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and web.poll() is None:
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def first_hour_box() -> str:
    """Admin URL, the first admin and where its first password is (authserver.firstrun)."""
    admin = get_user_model().objects.filter(is_superuser=True, is_active=True).order_by("pk")
    first = admin.first()
    if first is None:
        return "No admin user yet: bin/manage createsuperuser"
    username = first.get_username()
    password_file = (
        firstrun.first_password_file(settings.CONFIG.var_dir, username)
        if settings.CONFIG.embedded
        else None
    )
    return firstrun.admin_box(
        issuer=settings.ISSUER, username=username, password_file=password_file
    )


class Command(BaseCommand):
    help = "Serve the authorization server with gunicorn plus a Celery worker running beat."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--bind",
            default=None,
            help="host:port (default: the ISSUER's host and port when it is a loopback http "
            "URL, else 127.0.0.1:8000)",
        )
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--no-jobs", action="store_true", help="web server only")

    def handle(self, *args, **options) -> None:
        python = sys.executable
        options["bind"] = options["bind"] or default_bind(settings.ISSUER)
        procs: dict[str, subprocess.Popen] = {}
        if not options["no_jobs"]:
            procs["jobs"] = subprocess.Popen(  # noqa: S603 - fixed argv, our interpreter
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "authserver",
                    "--quiet",  # no banner: make run's terminal shows problems, not config
                    "worker",
                    "--beat",
                    "--schedule",
                    settings.CELERY_BEAT_SCHEDULE_FILENAME,
                    "--concurrency",
                    "1",
                    # The embedded worker reports problems only; beat's "sending due task"
                    # line every 10 s is noise on a developer's terminal.
                    "--loglevel",
                    "WARNING",
                ]
            )
        procs["web"] = subprocess.Popen(  # noqa: S603 - fixed argv, our interpreter
            [
                python,
                "-m",
                "gunicorn",
                "authserver.wsgi",
                "--bind",
                options["bind"],
                "--workers",
                str(options["workers"]),
                "--threads",
                str(options["threads"]),
                # Access log and gunicorn's own lines through our redaction filter.
                "--config",
                "python:authserver.ops.gunicorn_embedded",
            ]
        )
        # After gunicorn's start-up lines, so the box is the last thing on a fresh terminal.
        answering(options["bind"], procs["web"], timeout=30)
        self.stdout.write(
            f"Serving {settings.ISSUER} on {options['bind']} "
            f"(mcp-authserver {version.current()}; Ctrl-C stops)"
        )
        self.stdout.write(first_hour_box())

        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        status = 0
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    self.stderr.write(f"{name} exited with status {proc.returncode}; stopping")
                    status = proc.returncode or 1
                    stopping = True
            time.sleep(0.5)
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        sys.exit(status)
