"""A short soak with faults on every CI run (the long one: `make soak`, bench/RELIABILITY.md)."""

from __future__ import annotations

from tests.reliability import soak


def test_soak_with_redis_worker_and_postgres_faults_keeps_every_invariant():
    report = soak.run(duration=30, threads=4)
    assert report["requests"] > 200
    assert len(report["faults"]) == 3
    # Never a 500; outages answer 503 with an OAuth error body.
    assert report["server_errors_500"] == 0
    assert report["non_json_error_bodies"] == []
    assert set(report["responses_by_status"]) <= {"200", "302", "503"}
    # Every issued token verifies or is listed revoked; none works for another audience.
    assert report["tokens_failing_otherwise"] == 0
    assert report["tokens_verified"] + report["tokens_listed_revoked"] == report["tokens_issued"]
    assert report["wrong_audience_accepted"] == 0
    # Every revocation made during the soak was published, worker outage included.
    assert report["revocations_published"] == report["revocations_made"]
    # Recovered without a restart, and stopped cleanly.
    assert report["tail_requests"] > 0
    assert report["tail_errors"] == []
    assert report["shutdown_exit_codes"] == {"web": 0, "worker": 0, "beat": 0}
