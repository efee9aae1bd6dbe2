"""deploy/gunicorn.conf.py: each worker, once it has loaded the app, freezes its startup heap
out of the cyclic collector and bounds how long a request's thread waits for the GIL."""

from __future__ import annotations

import gc
import runpy
import sys
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"


def test_a_worker_freezes_its_startup_heap_and_bounds_the_gil_wait():
    hooks = runpy.run_path(str(CONF))
    interval = sys.getswitchinterval()
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        hooks["post_worker_init"](None)
        assert gc.get_freeze_count() > 10_000  # the loaded app, not a handful of objects
        assert sys.getswitchinterval() == pytest.approx(0.001)
    finally:
        gc.unfreeze()
        sys.setswitchinterval(interval)
