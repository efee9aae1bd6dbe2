"""gunicorn for the bench: deploy/gunicorn.conf.py unchanged, minus the per-request logging.

The access log is off and gunicorn's own logger is at WARNING, so the run measures the
server rather than its log lines (LOG_LEVEL=WARNING does the same for Django).
"""

import runpy
from pathlib import Path

_deploy = runpy.run_path(str(Path(__file__).resolve().parents[1] / "deploy" / "gunicorn.conf.py"))
globals().update({k: v for k, v in _deploy.items() if not k.startswith("__")})

accesslog = None
loglevel = "warning"
logconfig_dict = {
    **_deploy["logconfig_dict"],
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
