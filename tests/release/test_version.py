"""The version from one place (pyproject.toml), shown by /healthz, /docs and the start line."""

from __future__ import annotations

import ast
import logging
import runpy
import subprocess
import sys

from packaging.version import Version

from authserver import version
from tests.release.releases import ROOT


def test_the_version_is_a_semantic_one():
    parsed = Version(version.current())
    assert len(parsed.release) == 3  # MAJOR.MINOR.PATCH


def test_a_checkout_s_pyproject_wins_over_stale_install_metadata(tmp_path, monkeypatch):
    text = '[project]\nname = "mcp-authserver"\nversion = "9.8.7"\n'
    (tmp_path / "pyproject.toml").write_text(text)
    monkeypatch.setattr(version, "PYPROJECT", tmp_path / "pyproject.toml")
    monkeypatch.setattr(version, "from_metadata", lambda: "0.1.0")  # an old editable install
    version.current.cache_clear()
    try:
        assert version.current() == "9.8.7"
        monkeypatch.setattr(version, "PYPROJECT", tmp_path / "absent.toml")  # a wheel
        version.current.cache_clear()
        assert version.current() == "0.1.0"
    finally:
        monkeypatch.undo()
        version.current.cache_clear()


def test_without_our_pyproject_the_installed_metadata_answers(tmp_path):
    assert version.from_pyproject(tmp_path / "missing.toml") is None
    (tmp_path / "other.toml").write_text('[project]\nname = "someone-else"\nversion = "1.0"\n')
    assert version.from_pyproject(tmp_path / "other.toml") is None
    assert Version(version.from_metadata())  # the venv has the project installed


def test_the_version_module_imports_only_the_standard_library():
    tree = ast.parse((ROOT / "authserver" / "version.py").read_text())
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= sys.stdlib_module_names | {"__future__"}, imported


def test_importing_the_version_loads_no_feature():
    code = (
        "import sys, authserver.version as v; v.current(); "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('clients', 'accounts', 'connections', 'enterprise')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_the_docs_page_names_the_version(client):
    response = client.get("/docs")
    assert f"Version <code>{version.current()}</code>" in response.content.decode()


class Server:
    """What gunicorn hands a server hook: its logger."""

    def __init__(self) -> None:
        self.log = logging.getLogger("gunicorn.error")


def test_gunicorn_s_first_line_names_the_version(caplog):
    for config in (
        ROOT / "deploy" / "gunicorn.conf.py",
        ROOT / "authserver/ops/gunicorn_embedded.py",
    ):
        hooks = runpy.run_path(str(config))
        with caplog.at_level(logging.INFO, logger="gunicorn.error"):
            hooks["on_starting"](Server())
        assert f"mcp-authserver {version.current()} starting" in caplog.text, config
        caplog.clear()
