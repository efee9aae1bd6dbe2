"""Registration policy settings, read once from the environment (authserver/config.py)."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from authserver import config


def load(tmp_path, **env):
    return config.load({"VAR_DIR": str(tmp_path), **env})


def test_registration_defaults_are_open_rate_limited_capped_and_production_safe(tmp_path):
    c = load(tmp_path)
    assert c.registration_mode == "dcr+cimd"
    assert (c.dcr_on, c.cimd_on) == (True, True)
    assert c.registration_rate_limit == 20
    assert c.max_dynamic_clients == 10000
    assert (c.dynamic_client_unused_days, c.dynamic_client_idle_days) == (1, 90)
    assert c.cimd_enabled is True
    assert c.cimd_allow_loopback is False  # never on unless asked for
    assert c.trusted_proxy_count == 0


def test_registration_settings_are_parsed(tmp_path):
    c = load(
        tmp_path,
        REGISTRATION_MODE="Initial_Access_Token",
        REGISTRATION_RATE_LIMIT="0",
        MAX_DYNAMIC_CLIENTS="5",
        CIMD_ALLOW_LOOPBACK="true",
        CIMD_ENABLED="false",
    )
    assert c.registration_mode == "initial_access_token"
    assert c.registration_rate_limit == 0
    assert c.max_dynamic_clients == 5
    assert c.cimd_allow_loopback is True
    assert c.cimd_enabled is False


@pytest.mark.parametrize(
    "env",
    [
        {"REGISTRATION_MODE": "shut"},
        {"REGISTRATION_MODE": "cimd-only", "CIMD_ENABLED": "false"},
        {"REGISTRATION_RATE_LIMIT": "-1"},
        {"MAX_DYNAMIC_CLIENTS": "many"},
        {"DYNAMIC_CLIENT_UNUSED_DAYS": "0"},
        {"CIMD_ALLOW_LOOPBACK": "maybe"},
    ],
)
def test_malformed_registration_setting_stops_startup(tmp_path, env):
    with pytest.raises(ImproperlyConfigured):
        load(tmp_path, **env)


@pytest.mark.parametrize(
    ("mode", "dcr", "cimd"),
    [
        ("dcr+cimd", True, True),
        ("open", True, True),  # the former name
        ("initial_access_token", True, True),
        ("cimd-only", False, True),
        ("closed", False, False),
    ],
)
def test_registration_mode_says_which_ways_are_on(tmp_path, mode, dcr, cimd):
    c = load(tmp_path, REGISTRATION_MODE=mode)
    assert (c.dcr_on, c.cimd_on) == (dcr, cimd)
