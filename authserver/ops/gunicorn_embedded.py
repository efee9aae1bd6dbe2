"""gunicorn settings for the embedded default (``manage.py serve``): redacted logs.

``serve`` passes ``--config python:authserver.ops.gunicorn_embedded``; its command-line options
(bind, workers, threads) override these. The access log and gunicorn's own messages go
through the same redaction filter as every other log (authserver.ops.logs), so a code, its
verifier or a registration access token in a query string never reaches the terminal.
Production uses deploy/gunicorn.conf.py, which does the same with JSON output.
"""

from authserver import version
from authserver.ops.logs import GUNICORN_ACCESS_FORMAT, gunicorn_logconfig

accesslog = "-"
access_log_format = GUNICORN_ACCESS_FORMAT
logconfig_dict = gunicorn_logconfig({"format": "%(asctime)s %(levelname)s %(name)s %(message)s"})


def on_starting(server):
    """Every start names the version, right after gunicorn's own line (authserver.version)."""
    server.log.info("mcp-authserver %s starting", version.current())
