"""gunicorn settings for the embedded default (``manage.py serve``): redacted logs.

``serve`` passes ``--config python:authserver.gunicorn_embedded``; its command-line options
(bind, workers, threads) override these. The access log and gunicorn's own messages go
through the same redaction filter as every other log (authserver.logging), so a code, its
verifier or a registration access token in a query string never reaches the terminal.
Production uses deploy/gunicorn.conf.py, which does the same with JSON output.
"""

accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms pid=%(p)s'

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "authserver.logging.RedactionFilter"},
        "request_id": {"()": "authserver.logging.RequestIdFilter"},
    },
    "formatters": {"text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "text",
            "filters": ["request_id", "redact"],
        }
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
