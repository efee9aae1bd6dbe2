"""The default HTTP GET: stdlib ``urllib``, a timeout, same-scheme redirects, a body cap.

Any callable with the ``Fetch`` signature can replace it (another HTTP stack, or a test).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

# (url, request headers) -> (status, response headers, body)
Fetch = Callable[[str, Mapping[str, str]], tuple[int, Mapping[str, str], bytes]]

MAX_BODY_BYTES = 1024 * 1024
USER_AGENT = "mcp-token-verifier/0.1"


class FetchError(Exception):
    """The request could not be made or its answer was refused; never carries a token."""


class _SameSchemeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only within the scheme we started with (no https -> http)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).scheme != urlsplit(req.full_url).scheme:
            raise FetchError(f"refused a redirect from {req.full_url} to another scheme")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _read_capped(response, limit: int) -> bytes:
    body = response.read(limit + 1)
    if len(body) > limit:
        raise FetchError(f"response body exceeds {limit} bytes")
    return body


def make_urllib_fetch(timeout: float, *, max_body: int = MAX_BODY_BYTES) -> Fetch:
    """A ``Fetch`` over ``urllib.request`` with ``timeout`` seconds per request."""
    opener = urllib.request.build_opener(_SameSchemeRedirects)

    def fetch(url: str, headers: Mapping[str, str]) -> tuple[int, Mapping[str, str], bytes]:
        if urlsplit(url).scheme not in ("https", "http"):
            raise FetchError(f"refused to fetch a non-HTTP URL: {url}")
        request = urllib.request.Request(  # noqa: S310 -- scheme checked just above
            url, headers={"User-Agent": USER_AGENT, **headers}
        )
        try:
            with opener.open(request, timeout=timeout) as response:
                body = _read_capped(response, max_body)
                return response.status, _lower(response.headers), body
        except urllib.error.HTTPError as exc:
            # 304 and every error status land here; the caller decides what they mean.
            try:
                body = _read_capped(exc, max_body) if exc.fp is not None else b""
            finally:
                exc.close()
            return exc.code, _lower(exc.headers), body
        except (OSError, ValueError) as exc:  # URLError, timeouts, TLS, bad URLs
            raise FetchError(f"GET {url} failed: {exc}") from exc

    return fetch


def _lower(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()} if headers else {}
