"""The suite must run on the real services `make test` starts, never on fallbacks."""

import os
import uuid

import pytest
import redis
from django.core.cache import cache, caches
from django.db import connection


@pytest.mark.django_db
def test_suite_runs_on_postgresql():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        assert cursor.fetchone()[0].startswith("PostgreSQL")


def test_redis_round_trip_through_raw_client():
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    key = f"test:{uuid.uuid4()}"
    client.set(key, b"value", ex=10)
    assert client.get(key) == b"value"
    client.delete(key)


def test_django_cache_is_redis():
    key = f"roundtrip-{uuid.uuid4()}"
    cache.set(key, {"n": 1}, 10)
    assert cache.get(key) == {"n": 1}
    assert type(caches["default"]).__name__ == "RedisCache"
