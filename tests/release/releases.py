"""The release record (deploy/releases.toml) and the git commits it names.

A CI clone may carry no tags: a release is found by its tag when the clone has it (and the
tag names the recorded commit), else by the recorded commit. A clone without that commit
(shallow, or no git at all) cannot run the upgrade test: that is an error, never a skip.
"""

from __future__ import annotations

import fnmatch
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RELEASES = ROOT / "deploy" / "releases.toml"


@dataclass(frozen=True)
class Release:
    version: str
    date: str
    tag: str
    commit: str


def all_releases(path: Path = RELEASES) -> list[Release]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [Release(**entry) for entry in data["release"]]


def previous() -> Release:
    """The newest release: the one an upgrade to this code starts from."""
    return all_releases()[-1]


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()


def resolve(release: Release) -> str:
    """The commit to check out: the tag's when the clone has the tag, else the record's."""
    try:
        tagged = git("rev-parse", "--verify", "--quiet", f"refs/tags/{release.tag}^{{commit}}")
    except subprocess.CalledProcessError:
        tagged = ""
    if tagged and tagged != release.commit:
        raise AssertionError(
            f"tag {release.tag} names {tagged}, deploy/releases.toml says {release.commit}"
        )
    try:
        git("cat-file", "-e", f"{release.commit}^{{commit}}")
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        raise AssertionError(
            f"release {release.version} (commit {release.commit}) is not in this clone: "
            "the upgrade test needs the history (git fetch --unshallow, or a full clone)"
        ) from exc
    return tagged or release.commit


def files_at(commit: str, pattern: str) -> list[str]:
    """Paths in ``commit`` matching the fnmatch ``pattern`` (git ls-tree takes no globs)."""
    return fnmatch.filter(git("ls-tree", "-r", "--name-only", commit).splitlines(), pattern)
