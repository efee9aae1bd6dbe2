"""Release artifacts: requirements.lock pins every dependency with hashes, and make sbom's
bin/sbom writes CycloneDX SBOMs of the Python and npm dependencies (offline)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from authserver import version
from tests.release.releases import ROOT

LOCK = (ROOT / "requirements.lock").read_text()


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, sha256 hashes), from the lock's requirement blocks."""
    found = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", LOCK):
        lines = [line for line in block.splitlines() if line and not line.startswith("#")]
        if not lines:
            continue
        name, _, pinned = lines[0].partition("==")
        found[canonicalize_name(name)] = (
            pinned.split()[0].rstrip("\\"),
            re.findall(r"--hash=sha256:([0-9a-f]{64})", block),
        )
    return found


def test_every_locked_requirement_is_pinned_with_its_hashes():
    entries = locked()
    assert len(entries) > 100
    for name, (pinned, hashes) in entries.items():
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", pinned), name
        assert hashes, f"{name} has no --hash"


def test_the_lock_pins_every_dependency_pyproject_declares():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["dev"]
    entries = locked()
    for line in declared:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in entries, f"{requirement.name} is not in requirements.lock: run bin/lock"
        assert requirement.specifier.contains(entries[name][0], prereleases=True), line


def runtime_closure() -> set[str]:
    """Every package the server needs at run time: pyproject's dependencies and theirs,
    extras and markers applied, from the installed metadata."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(line) for line in project["dependencies"]]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), tuple(sorted(requirement.extras)))
        if key in seen:
            continue
        seen.add(key)
        for line in metadata.requires(requirement.name) or []:
            dependency = Requirement(line)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(
                dependency.marker.evaluate({"extra": extra}) for extra in extras
            ):
                todo.append(dependency)
    return {name for name, _ in seen}


def test_the_lock_holds_everything_the_image_installs_at_run_time():
    """The image installs its runtime dependencies with --no-index from the hash-checked
    lock (deploy/compose/Dockerfile): one missing here would fail the build."""
    closure = runtime_closure()
    assert {"django", "psycopg-binary", "redis", "kombu"} <= closure
    assert not closure - set(locked()), closure - set(locked())


def test_make_sbom_writes_cyclonedx_of_python_and_npm_dependencies(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bin" / "sbom"), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    python = json.loads((tmp_path / "sbom-python.json").read_text())
    assert python["bomFormat"] == "CycloneDX"
    assert python["metadata"]["component"]["version"] == version.current()
    components = {c["name"].lower(): c for c in python["components"]}
    assert components["django"]["version"] == locked()["django"][0]
    assert len(components) == len(locked())
    npm = {
        name: json.loads((tmp_path / f"sbom-npm-{name}.json").read_text())
        for name in ("upstream", "ts-sdk")
    }
    names = {
        project: {c["name"]: c.get("version") for c in bom["components"]}
        for project, bom in npm.items()
    }
    assert names["upstream"]["oidc-provider"] == "9.13.3"
    assert names["ts-sdk"]["@modelcontextprotocol/sdk"] == "1.32.2"
