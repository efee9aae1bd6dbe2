"""``make run``'s first start: the generated admin password is saved to a 0600 file in a 0700
``var/`` and never printed or logged; after "Serving" one box names the admin URL, the user
and that file."""

from __future__ import annotations

import dataclasses
import io
import logging
import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from authserver import firstrun
from authserver.management.commands import serve

pytestmark = [pytest.mark.django_db]


class Everything(logging.Handler):
    """Every record any logger emits, at any level, formatted as a handler would."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def embedded(settings, tmp_path, monkeypatch):
    """The embedded default's settings, with its var/ in a temporary folder."""
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("ADMIN_USERNAME", raising=False)
    var_dir = tmp_path / "var"
    settings.CONFIG = dataclasses.replace(settings.CONFIG, embedded=True, var_dir=var_dir)
    settings.ISSUER = "http://127.0.0.1:8000"
    return var_dir


@pytest.fixture
def every_log_record():
    handler, root = Everything(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(level)


def bootstrap() -> str:
    out = io.StringIO()
    call_command("bootstrap", stdout=out)
    return out.getvalue()


def test_first_password_is_saved_0600_in_a_0700_var_dir(embedded):
    output = bootstrap()
    path = embedded / firstrun.PASSWORD_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(embedded.stat().st_mode) == 0o700
    password = path.read_text().strip()
    assert get_user_model().objects.get(username="admin").check_password(password)
    assert str(path) in output


def test_first_password_never_reaches_a_log_handler_or_the_terminal(embedded, every_log_record):
    output = bootstrap()
    box = serve.first_hour_box()
    password = (embedded / firstrun.PASSWORD_FILE).read_text().strip()
    assert every_log_record is not None
    assert not [line for line in every_log_record if password in line]
    assert password not in output
    assert password not in box


def test_box_after_serving_names_admin_url_user_and_password_file(embedded):
    bootstrap()
    box = serve.first_hour_box().splitlines()
    assert box[0] == box[-1]
    assert set(box[0]) == {"+", "-"}
    assert all(len(line) == len(box[0]) for line in box)
    text = "\n".join(box)
    assert "Admin:    http://127.0.0.1:8000/admin/" in text
    assert "User:     admin" in text
    assert f"Password: in {embedded / firstrun.PASSWORD_FILE}" in text


def test_box_stops_pointing_to_the_file_once_the_password_is_changed(embedded):
    bootstrap()
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("a new one, chosen by the admin")
    admin.save()
    box = serve.first_hour_box()
    assert "bin/manage changepassword admin" in box
    assert firstrun.PASSWORD_FILE not in box
    assert not (embedded / firstrun.PASSWORD_FILE).exists()  # a stale secret is not kept


def test_a_link_planted_at_the_password_file_is_replaced_not_written_through(embedded, tmp_path):
    embedded.mkdir(mode=0o700)
    target = tmp_path / "elsewhere"
    target.write_text("untouched")
    (embedded / firstrun.PASSWORD_FILE).symlink_to(target)
    bootstrap()
    assert target.read_text() == "untouched"
    assert not (embedded / firstrun.PASSWORD_FILE).is_symlink()


def test_chosen_password_is_neither_saved_nor_printed(embedded, monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "chosen-by-the-operator-1234")
    output = bootstrap()
    assert "chosen-by-the-operator-1234" not in output
    assert "ADMIN_PASSWORD" in output
    assert not (embedded / firstrun.PASSWORD_FILE).exists()
    assert "the one you set" in serve.first_hour_box()
