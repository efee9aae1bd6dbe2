"""The README's quick start, run as written on a fresh clone.

``git clone`` of this repository into a temporary folder, then every ``sh`` block of the
README's "Quick start" section in order, with bash, in the clone: blocks that say "keeps
running" are started in the background and waited for, the others must exit 0. Two things
differ from a reader's machine, both said here: the ports (free ones instead of 8000/8001,
through ``ISSUER``/``DEMO_*`` and the same substitution in the commands' text, so a server
already on 8000 cannot interfere), and the installed dependencies, which are lent to the clone
from this checkout's ``.venv`` instead of a fresh install of several minutes. The reader's
part in the browser (sign in, Allow) is played by tests/quickstart_browser.py via ``BROWSER``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.http import free_port

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
ADMIN_PASSWORD = "quick-start-password-7f3a"
# Set by `make test` for the suite's own server; the reader's shell has none of them.
SUITE_ONLY = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "KEY_ENCRYPTION_KEY", "VAR_DIR")


def quick_start_section() -> str:
    return README.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]


def shell_blocks(section: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", section, re.S | re.M)


def test_readme_first_screen_has_the_two_commands_and_a_three_step_quick_start():
    assert "make run" in README.split("## Quick start")[0]
    assert "make test" in README.split("## Quick start")[0]
    steps = re.findall(r"^### (\d)\. ", quick_start_section(), re.M)
    assert steps == ["1", "2", "3"]
    assert "## Contents" in README
    assert not re.search(r"^\s*python3? manage\.py", README, re.M)
    assert not re.search(r"\bissue #?\d+", README, re.I)
    assert "bin/manage changepassword" in README


def test_every_docs_link_in_the_readme_exists():
    for target in re.findall(r"\]\(((?:docs|deploy|examples)/[^)#]+)", README):
        assert (ROOT / target).exists(), target


def lend_venv(clone: Path) -> None:
    """A .venv in the clone whose interpreter and site-packages are this checkout's.

    Python finds ``pyvenv.cfg`` beside the (unresolved) interpreter path, so the clone's
    ``.venv/bin/python`` is a venv of its own; its ``lib`` is ours. The install stamps are
    fresh, so make installs nothing; the clone's own code comes first on ``sys.path``.
    """
    ours = ROOT / ".venv"
    # .venv-demo (bin/demo-mcp-server's own) borrows ours too, which holds all it needs.
    for venv, stamps in (
        (".venv", (".installed", ".installed-dev")),
        (".venv-demo", (".installed",)),
    ):
        theirs = clone / venv
        (theirs / "bin").mkdir(parents=True)
        shutil.copy(ours / "pyvenv.cfg", theirs / "pyvenv.cfg")
        (theirs / "lib").symlink_to(ours / "lib")
        for entry in (ours / "bin").iterdir():
            (theirs / "bin" / entry.name).symlink_to(entry)
        later = time.time() + 5
        for stamp in stamps:
            (theirs / stamp).touch()
            os.utime(theirs / stamp, (later, later))


def wait_until_answering(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited early:\n{log.read_text()[-3000:]}"
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - our loopback URL
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer (the MCP server's 401) means it is up
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.browser
def test_quick_start_runs_as_written_on_a_fresh_clone(tmp_path):
    blocks = shell_blocks(quick_start_section())
    assert len(blocks) == 4
    assert [("keeps running" in b) for b in blocks] == [True, False, True, False]

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    lend_venv(clone)
    server, mcp = free_port(), free_port()
    issuer, mcp_url = f"http://127.0.0.1:{server}", f"http://127.0.0.1:{mcp}/mcp"
    env = {k: v for k, v in os.environ.items() if k not in SUITE_ONLY}
    env.update(
        ISSUER=issuer,
        DEMO_ISSUER=issuer,
        DEMO_PORT=str(mcp),
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        BROWSER=f"{sys.executable} {clone / 'tests' / 'quickstart_browser.py'} %s",
        XDG_CONFIG_HOME=str(tmp_path / "config"),  # bin/mcp-connect saves its registration
    )
    ready = [f"{issuer}/healthz", mcp_url]
    background: list[subprocess.Popen] = []
    outputs: list[str] = []
    try:
        for i, block in enumerate(blocks):
            script = block.replace("127.0.0.1:8000", f"127.0.0.1:{server}")
            script = script.replace("127.0.0.1:8001", f"127.0.0.1:{mcp}")
            if "keeps running" in block:
                log = tmp_path / f"block-{i}.log"
                with log.open("w") as out:
                    proc = subprocess.Popen(
                        ["bash", "-ec", script],
                        cwd=clone,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                background.append(proc)
                wait_until_answering(ready[len(background) - 1], proc, log, timeout=240)
            else:
                result = subprocess.run(
                    ["bash", "-ec", script],
                    cwd=clone,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=240,
                )
                assert result.returncode == 0, f"block {i}:\n{script}\n{result.stderr[-3000:]}"
                outputs.append(result.stdout)
    finally:
        stop(background)

    connected = outputs[-1]
    assert f"Connected to {mcp_url}. Tools: " in connected
    tools = connected.split("Tools: ", 1)[1].splitlines()[0].split(", ")
    assert sorted(tools) == ["add_note", "list_notes", "whoami"]
    assert "list_notes -> ok" in connected or "whoami -> ok" in connected


def test_every_relative_link_in_the_docs_pages_exists():
    for page in sorted((ROOT / "docs").glob("*.md")):
        for target in re.findall(r"\]\((?!https?:|#|mailto:)([^)#\s]+)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name}: {target}"
