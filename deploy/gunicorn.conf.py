"""gunicorn settings for production (used by deploy/compose and deploy/kubernetes).

Access logs go through our JSON formatter and redaction filter, like every other log.
With several workers, PROMETHEUS_MULTIPROC_DIR lets /metrics aggregate all of them.
"""

import os

from authserver import version
from authserver.ops.logs import GUNICORN_ACCESS_FORMAT, gunicorn_logconfig

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Heartbeat files in memory, not on a possibly slow or read-only root filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
timeout = 30
graceful_timeout = 20
keepalive = 5
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
access_log_format = GUNICORN_ACCESS_FORMAT
logconfig_dict = gunicorn_logconfig({"()": "authserver.ops.logs.JsonLogFormatter"})


def on_starting(server):
    """Every start names the version, right after gunicorn's own line (authserver.version)."""
    server.log.info("mcp-authserver %s starting", version.current())


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Tail latency, once the worker has loaded the app (docs/performance.md, "Issue 34,
    closing steps").

    - What the app loaded at startup (modules, the app registry, settings) lives as long as
      the worker: gc.freeze moves it out of the cyclic collector's way, so a full collection
      walks only what requests leave behind (88 ms for the startup heap otherwise, a pause
      some request lands in).
    - A thread that holds the GIL keeps it up to the switch interval (5 ms by default) while
      another request's thread waits: 1 ms bounds that wait for a request that needs a
      millisecond of CPU (AuthZEN decisions at 500/s: p99 12.5 -> 5.4-6.8 ms measured)."""
    import gc
    import sys

    gc.freeze()
    sys.setswitchinterval(0.001)
