"""The decision point's settings come from authserver/config.py like every other one."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from authserver import config


def test_permit_audit_sample_is_read_once_into_the_config(tmp_path):
    assert config.load({"VAR_DIR": str(tmp_path)}).authzen_permit_audit_sample == 0.01
    cfg = config.load({"VAR_DIR": str(tmp_path), "AUTHZEN_PERMIT_AUDIT_SAMPLE": "0.25"})
    assert cfg.authzen_permit_audit_sample == 0.25
    assert settings.CONFIG.authzen_permit_audit_sample == settings.AUTHZEN_PERMIT_AUDIT_SAMPLE


@pytest.mark.parametrize("raw", ["-0.1", "1.5", "often", "nan", "inf"])
def test_permit_audit_sample_outside_zero_to_one_refuses_to_start(tmp_path, raw):
    with pytest.raises(ImproperlyConfigured, match="AUTHZEN_PERMIT_AUDIT_SAMPLE"):
        config.load({"VAR_DIR": str(tmp_path), "AUTHZEN_PERMIT_AUDIT_SAMPLE": raw})
