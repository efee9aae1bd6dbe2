"""The server's version, from one place: ``[project] version`` in pyproject.toml.

In a source checkout (``make run``, CI, the tests) pyproject.toml sits beside the packages
and is read directly: an editable install's metadata keeps the version it was installed
with until someone reinstalls, so it can be stale. An installed wheel (the container image)
has no pyproject.toml beside it and answers from its metadata (importlib.metadata).
Imports no feature and no Django: callable from settings, gunicorn hooks and templates.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "mcp-authserver"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
UNKNOWN = "0+unknown"  # PEP 440 local version: neither source nor metadata was found


def from_pyproject(path: Path = PYPROJECT) -> str | None:
    """The version in pyproject.toml, if it is this project's."""
    try:
        project = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if project.get("name") != DISTRIBUTION:
        return None
    version = project.get("version")
    return version if isinstance(version, str) and version else None


def from_metadata() -> str | None:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def current() -> str:
    """This server's version, e.g. ``1.1.0`` (PEP 440, which semantic versions satisfy)."""
    return from_pyproject(PYPROJECT) or from_metadata() or UNKNOWN
