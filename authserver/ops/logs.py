"""Structured logs: one JSON object per line, a request id on every record, secrets removed.

``RedactionFilter`` is the one place that scrubs tokens, codes, client secrets,
registration access tokens, Authorization and DPoP headers and cookies from every record,
whoever wrote it (our code, Django, oauthlib, gunicorn), before any formatter (JSON or text)
sees it. One function, :func:`redact_value`, handles every field: the final message, the
``extra`` fields whatever their type (Django's ``request`` object, whose ``str()`` holds the
query string, dicts, lists), the traceback and the stack, so a careless
``log.info("%s", request.body)`` is scrubbed too.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from pythonjsonlogger.json import JsonFormatter

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

REDACTED = "[redacted]"
# Names whose value is a secret, in a query string, a form body, a header or a dict key:
# anything ending in token, secret, assertion or password (client_secret, subject_token,
# client_assertion, registration_access_token, ...), and these exact names.
_SECRET_NAME = "|".join(  # names of secrets, not secrets
    [
        r"[A-Za-z0-9_-]*(?:token|secret|assertion|password)",
        *("code", "code_verifier", "sessionid", "csrftoken", "csrfmiddlewaretoken"),
        *("dpop", "authorization", "cookie", "private_key"),
    ]
)
_SECRET_KEY = re.compile(rf"(?i)^(?:http_)?(?:{_SECRET_NAME})$")  # META keys too
_PATTERNS = [
    # A JWS/JWT: three base64url segments, the first starting with a JSON object.
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
    # Authorization header values.
    (re.compile(r"(?i)\b(Bearer|Basic|DPoP)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    # key=value in query strings, form bodies, headers and reprs (also URL-encoded: %3D).
    (
        re.compile(
            rf"(?i)(?<![A-Za-z0-9_-])({_SECRET_NAME})(['\"]?\s*(?:[=:]|%3D)\s*['\"]?)"
            r"[^&\s'\",;]+"
        ),
        r"\1\2" + REDACTED,
    ),
    # Cookie headers.
    (re.compile(r"(?i)(cookie['\"]?\s*[:=]\s*['\"]?)[^'\"\n]+"), r"\1" + REDACTED),
    # Our generated client secrets and registration tokens: 64 hex characters.
    (re.compile(r"\b[0-9a-f]{64}\b"), REDACTED),
]
_MAX_DEPTH = 6  # nested containers in an extra field; deeper is replaced whole


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: object, depth: int = 0) -> object:
    """The one redaction function for every field of a record: strings are scrubbed,
    containers walked (a secret-named key loses its value whole), and any other object
    (a request, a response, an exception) becomes its scrubbed ``str()``, so no formatter,
    JSON or text, ever renders an object we have not seen as text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact(value)
    if depth >= _MAX_DEPTH:
        return REDACTED
    if isinstance(value, dict):
        return {
            str(k): REDACTED if _SECRET_KEY.match(str(k)) else redact_value(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v, depth + 1) for v in value]
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    try:
        return redact(str(value))
    except Exception:  # an object whose str() fails is not worth a dropped record
        return f"<{type(value).__name__}>"


class RedactionFilter(logging.Filter):
    """Scrubs a record in place before any handler formats it: the message with its args,
    every non-standard attribute (``extra``, Django's ``request``), the traceback (as
    ``exc_text``, which text formatters print instead of formatting ``exc_info`` again) and
    the stack. ``exc_info`` stays for in-process consumers; the JSON formatter, which would
    format it again, redacts what it formats (:class:`JsonLogFormatter`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not drop the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = ()
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD:
                setattr(record, key, redact_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonLogFormatter(JsonFormatter):
    """One JSON object per line. python-json-logger formats ``exc_info`` itself rather than
    printing the filter's redacted ``exc_text``: what it formats is redacted the same way."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("rename_fields", {"levelname": "level", "asctime": "time"})
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s", *args, **kwargs
        )

    def formatException(self, ei) -> str:
        return redact(logging.Formatter.formatException(self, ei))

    def formatStack(self, stack_info) -> str:
        return redact(logging.Formatter.formatStack(self, stack_info))


_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id_from(incoming: str) -> str:
    """The proxy's X-Request-ID when it is sane, else ""."""
    return incoming if _VALID_REQUEST_ID.match(incoming) else ""


class RequestIdMiddleware:
    """Takes a sane X-Request-ID from the proxy or makes one; echoes it on the response."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.headers.get("X-Request-ID", "")) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


# gunicorn's access line: who, what, status, size, time; the query string is redacted.
GUNICORN_ACCESS_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms pid=%(p)s'


def gunicorn_logconfig(formatter: dict) -> dict:
    """gunicorn's own logs (access and error) through the request-id and redaction filters,
    like every other log; ``formatter`` is the one difference between the embedded default
    (text) and production (JSON)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "redact": {"()": "authserver.ops.logs.RedactionFilter"},
            "request_id": {"()": "authserver.ops.logs.RequestIdFilter"},
        },
        "formatters": {"main": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "main",
                "filters": ["request_id", "redact"],
            }
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }
