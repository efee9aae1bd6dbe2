"""``bin/manage rotate_keys`` without a flag says what it did, or that nothing was due and
when the next rotation is, and what ``--now`` would do; ``--json`` is for scripts."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from authserver.keys import keyring as keys
from authserver.models import SigningKey

pytestmark = [pytest.mark.django_db]


def rotate_keys(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_keys", *args, stdout=out)
    return out.getvalue()


def test_rotate_keys_without_a_flag_says_nothing_was_due_and_what_now_does():
    active = keys.active_key()
    output = rotate_keys()
    assert f"{active.alg}: nothing was due. Active key {active.kid} since " in output
    assert "the next rotation is due " in output
    assert "--now activates a new key immediately" in output
    assert "[]" not in output  # no bare empty lists


def test_rotate_keys_without_a_flag_names_each_key_it_changed():
    old = keys.active_key()
    policy = keys.KeyPolicy.from_settings()
    # Due for its successor: published ahead first, active on the next run once its time came.
    SigningKey.objects.filter(kid=old.kid).update(
        activated_at=timezone.now() - policy.rotation_period
    )
    output = rotate_keys()
    successor = SigningKey.objects.get(alg=old.alg, state=SigningKey.State.PENDING)
    assert f"{old.alg}: published {successor.kid}, which activates " in output
    SigningKey.objects.filter(kid=successor.kid).update(activates_at=timezone.now())
    output = rotate_keys()
    assert f"activated {successor.kid}" in output
    assert f"retiring {old.kid} (published until its tokens expire)" in output


def test_rotate_keys_now_does_not_repeat_what_now_does():
    output = rotate_keys("--now")
    assert "activated " in output
    assert "--now activates" not in output


def test_rotate_keys_json_is_the_machine_readable_report():
    alg = keys.active_key().alg
    report = json.loads(rotate_keys("--json"))
    assert report == {alg: {"created": [], "activated": [], "retiring": [], "retired": []}}
