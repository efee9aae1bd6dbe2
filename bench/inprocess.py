"""Measurements inside the bench process: (i) the verifier against raw `cryptography`, the
token endpoint under pyinstrument, EXPLAIN of the token endpoint's queries, and the
expired-token cleanup. Needs Django set up against the bench database."""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from jwcrypto import jwk, jws

from bench.flows import basic, probe
from bench.loadgen import timed

# --- (i) the verifier --------------------------------------------------------------------


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verifier_case(port: int, *, issuer: str, resource: str, tokens: list[str], seconds: float):
    from mcp_token_verifier import TokenVerifier

    verifier = TokenVerifier(
        issuer=issuer, resource=resource, revocation_list_uri=f"{issuer}/revocations"
    )
    for token in tokens:  # warm: metadata, JWKS and revocation list fetched once
        verifier.verify(token, ["tools:read"])
    revocation_list = verifier._revocation_list
    listed = revocation_list._current()  # the verified list the checks run against
    cycle = itertools.cycle(tokens)
    calls, elapsed = timed(lambda: verifier.verify(next(cycle), ["tools:read"]), seconds)
    verify_rate = calls / elapsed

    _, _, body = probe(port, "GET", "/.well-known/jwks.json")
    header = json.loads(_b64(tokens[0].split(".")[0]))
    member = next(k for k in json.loads(body)["keys"] if k["kid"] == header["kid"])
    key = jwk.JWK(**member)
    raw_verify = raw_es256_verify(key, tokens)
    calls, elapsed = timed(raw_verify, seconds)
    raw_rate = calls / elapsed

    # The right reference for a verifier: it must also take the token apart (RFC 7515 §7.1),
    # decode it and read its claims; a raw verify alone gets those done for it beforehand.
    calls, elapsed = timed(raw_es256_parse_and_verify(key, tokens), seconds)
    parse_rate = calls / elapsed

    jws_cycle = itertools.cycle(tokens)

    def jwcrypto_verify() -> None:
        parsed = jws.JWS()
        parsed.deserialize(next(jws_cycle))
        parsed.verify(key, alg="ES256")

    calls, elapsed = timed(jwcrypto_verify, seconds / 2)
    jwcrypto_rate = calls / elapsed

    # O(1) revoked check: a listed jti and an unlisted one cost the same set lookup.
    some_jti = next(iter(listed.jtis))
    listed_claims = {"jti": some_jti, "sub": "x", "client_id": "y", "iat": 0}
    fresh_claims = {"jti": "not-revoked", "sub": "x", "client_id": "y", "iat": 0}
    n = 200_000
    started = time.perf_counter()
    for _ in range(n):
        revocation_list.is_revoked(listed_claims, "kid")
    listed_ns = (time.perf_counter() - started) / n * 1e9
    started = time.perf_counter()
    for _ in range(n):
        revocation_list.is_revoked(fresh_claims, "kid")
    fresh_ns = (time.perf_counter() - started) / n * 1e9
    return {
        "key": "i",
        "title": "(i) TokenVerifier.verify in-process (warm JWKS + revocation list)",
        "verify_per_s": round(verify_rate, 1),
        "verify_us": round(1e6 / verify_rate, 1),
        "raw_cryptography_verify_per_s": round(raw_rate, 1),
        "raw_cryptography_verify_us": round(1e6 / raw_rate, 1),
        "raw_parse_and_verify_per_s": round(parse_rate, 1),
        "raw_parse_and_verify_us": round(1e6 / parse_rate, 1),
        "jwcrypto_jws_verify_per_s": round(jwcrypto_rate, 1),
        "jwcrypto_jws_verify_us": round(1e6 / jwcrypto_rate, 1),
        "revoked_jtis_in_list": len(listed.jtis),
        "is_revoked_listed_ns": round(listed_ns),
        "is_revoked_unlisted_ns": round(fresh_ns),
        "tokens": len(tokens),
    }


def raw_es256_verify(key: jwk.JWK, tokens: list[str]):
    """The reference of case (i): one raw ``cryptography`` ES256 verify per call, cycling
    through ``tokens`` (signatures converted to DER beforehand, outside the measurement)."""
    public = key.get_op_key("verify")
    prepared = []
    for token in tokens:
        head, payload, sig = token.split(".")
        raw = _b64(sig)
        der = utils.encode_dss_signature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        )
        prepared.append(((head + "." + payload).encode(), der))
    raw_cycle = itertools.cycle(prepared)
    algorithm = ec.ECDSA(hashes.SHA256())

    def raw_verify() -> None:
        message, der = next(raw_cycle)
        public.verify(der, message, algorithm)

    return raw_verify


def raw_es256_parse_and_verify(key: jwk.JWK, tokens: list[str]):
    """The least any JWT verifier does per token, with nothing checked: split the compact
    form, base64url-decode signature and payload (the fast decode of the one JWS path), the
    signature to DER, one raw ``cryptography`` ES256 verify, ``json.loads`` of the claims."""
    from mcp_token_verifier.jws import b64url_decode

    public = key.get_op_key("verify")
    cycle = itertools.cycle(tokens)
    algorithm = ec.ECDSA(hashes.SHA256())

    def parse_and_verify() -> None:
        signing_input, _, sig = next(cycle).encode("ascii").rpartition(b".")
        _head, _, payload = signing_input.partition(b".")
        raw = b64url_decode(sig)
        der = utils.encode_dss_signature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        )
        public.verify(der, signing_input, algorithm)
        json.loads(b64url_decode(payload))

    return parse_and_verify


# --- in-process token endpoint: profile and EXPLAIN -----------------------------------------

# (label, file path suffix, function): inclusive time of each part of a token request.
PARTS = [
    ("whole request (test client)", "django/test/client.py", "request"),
    ("middleware chain", "django/utils/deprecation.py", "__call__"),
    ("token endpoint pipeline (view.token)", "authserver/token_endpoint/view.py", "token"),
    ("parse (params.parse_request)", "authserver/token_endpoint/params.py", "parse_request"),
    ("cache generation read", "authserver/token_endpoint/hotcache.py", "current_generation"),
    ("client authentication", "authserver/token_endpoint/client_auth.py", "authenticate"),
    ("grant validation (validate)", "token_endpoint/grants/client_credentials.py", "validate"),
    ("issue (one transaction)", "authserver/token_endpoint/issue.py", "issue"),
    ("JWT signing (keys.sign)", "authserver/keys/keyring.py", "sign"),
    ("the one write statement: claim, rows, audit (writer.write)",
     "authserver/token_endpoint/writer.py", "write"),
    ("its round trip (sql._execute_server_bound, prepared)", "authserver/token_endpoint/sql.py",
     "_execute_server_bound"),
    ("metrics after the write (metrics.token_issued)", "authserver/ops/metrics.py",
     "token_issued"),
    ("Django ORM round trips (CursorWrapper._execute)", "django/db/backends/utils.py",
     "_execute"),
    ("the one JWS path's signature (jws_sign.Signer.sign)", "mcp_token_verifier/jws_sign.py",
     "sign"),
    ("jwcrypto add_signature (no longer on the path: 0 expected)", "jwcrypto/jws.py",
     "add_signature"),
]  # fmt: skip


def _token_client(host: str):
    from django.test import Client

    return Client(HTTP_HOST=host)


def token_request(client, seeded) -> int:
    # Form-encoded, as wrk and every OAuth client send it (the test client's default
    # multipart would add its own parsing to the profile).
    body = urlencode(
        {"grant_type": "client_credentials", "resource": seeded.resource, "scope": "tools:read"}
    )
    response = client.post(
        "/token",
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic(seeded.machine_id, seeded.machine_secret),
    )
    return response.status_code


def profile_token_endpoint(seeded, host: str, n: int, out: Path) -> dict:
    from pyinstrument import Profiler

    client = _token_client(host)
    for _ in range(50):
        token_request(client, seeded)
    profiler = Profiler(interval=0.0005)
    statuses: dict[int, int] = defaultdict(int)
    started = time.perf_counter()
    profiler.start()
    for _ in range(n):
        statuses[token_request(client, seeded)] += 1
    profiler.stop()
    elapsed = time.perf_counter() - started
    out.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    root = profiler.last_session.root_frame()
    total = root.time if root else 0.0
    parts = {label: 0.0 for label, _, _ in PARTS}
    self_times: dict[str, float] = defaultdict(float)

    def walk(frame, active: frozenset[str]) -> None:
        here = set(active)
        for label, suffix, function in PARTS:
            if (
                label not in active
                and frame.function == function
                and (frame.file_path or "").endswith(suffix)
            ):
                parts[label] += frame.time
                here.add(label)
        if not frame.is_synthetic:  # "[self]" leaves are folded into their parent here
            self_times[f"{frame.function} ({frame.file_path_short})"] += frame.total_self_time
        for child in frame.children:
            walk(child, frozenset(here))

    if root is not None:
        walk(root, frozenset())
    top_self = sorted(self_times.items(), key=lambda kv: -kv[1])[:15]
    return {
        "requests": n,
        "statuses": dict(statuses),
        "in_process_rps": round(n / elapsed, 1),
        "ms_per_request": round(elapsed / n * 1000, 3),
        "parts_ms_per_request": {k: round(v / n * 1000, 3) for k, v in parts.items()},
        "parts_share": {k: round(v / total, 3) if total else 0 for k, v in parts.items()},
        "top_self_ms_per_request": [(k, round(v / n * 1000, 3)) for k, v in top_self],
        "profile_file": out.name,
    }


def explain_token_endpoint(seeded, host: str) -> list[dict]:
    """EXPLAIN (ANALYZE, BUFFERS) every statement one client-credentials request runs.

    Writes are explained inside a rolled-back savepoint; an INSERT that would collide with
    the row the request itself wrote falls back to a plain EXPLAIN."""
    from django.db import DatabaseError, connection, transaction

    captured: list[tuple[str, object]] = []

    def capture(execute, sql, params, many, context):
        captured.append((sql, params))
        return execute(sql, params, many, context)

    client = _token_client(host)
    token_request(client, seeded)  # warm caches so the statements are the steady-state ones
    with connection.execute_wrapper(capture):
        status = token_request(client, seeded)
    plans = []
    for sql, params in captured:
        verb = sql.lstrip().split(" ", 1)[0].upper()
        if verb not in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH"):
            continue
        plan, analyzed = None, True
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                    plan = [row[0] for row in cursor.fetchall()]
                transaction.set_rollback(True)
        except DatabaseError:
            analyzed = False
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + sql, params)
                plan = [row[0] for row in cursor.fetchall()]
        text = "\n".join(plan)
        plans.append(
            {
                "sql": sql,
                "analyzed": analyzed,
                "plan": text,
                "seq_scan": [line.strip() for line in plan if "Seq Scan" in line],
                "request_status": status,
            }
        )
    return plans


# --- cleanup ----------------------------------------------------------------------------------


IN_LIST = re.compile(r"IN \((?:%s, )*%s\)")
SERVER_DURATION = re.compile(r"duration: ([0-9.]+) ms\s+(?:statement|execute [^:]*): (.*)", re.S)
LITERALS = re.compile(r"'[^']*'(?:::[a-z]+(?:\[\])?)?|\b[0-9]+\b")


def statement_shape(sql: str) -> str:
    """A statement with its values folded: one shape per statement the code can send."""
    text = LITERALS.sub("?", IN_LIST.sub("IN (...)", " ".join(sql.split())))
    return re.sub(r"\((?:\?, )+\?\)", "(...)", text).replace("%s", "?")


@contextmanager
def server_timings(sink: dict[str, list[float]], plans: list[str] | None = None, slow_ms=25):
    """Every statement of this connection as PostgreSQL measured it (``duration:`` lines of
    ``log_min_duration_statement``, sent to this client): no waiting of this process for a
    CPU in it. With ``plans``, also ``auto_explain``'s plan of each statement slower than
    ``slow_ms``."""
    from django.db import connection

    def notice(diag) -> None:
        message = diag.message_primary or ""
        found = SERVER_DURATION.match(message)
        if found and "plan:" not in message:
            sink[statement_shape(found.group(2))].append(float(found.group(1)) / 1000)
        elif plans is not None:
            plans.append(message)

    connection.ensure_connection()
    raw = connection.connection
    raw.add_notice_handler(notice)
    settings = ["SET log_min_duration_statement = 0", "SET client_min_messages = log"]
    if plans is not None:
        settings[:0] = ["LOAD 'auto_explain'", f"SET auto_explain.log_min_duration = {slow_ms}"]
        settings += ["SET auto_explain.log_analyze = on", "SET auto_explain.log_buffers = on"]
        settings += ["SET auto_explain.log_level = notice"]
    with connection.cursor() as cursor:
        for statement in settings:
            cursor.execute(statement)
    try:
        yield sink
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET log_min_duration_statement")
            cursor.execute("RESET client_min_messages")
            if plans is not None:
                cursor.execute("RESET auto_explain.log_min_duration")
        raw.remove_notice_handler(notice)


@contextmanager
def timed_statements(stats: dict[str, list[float]]):
    """Every statement's time as this process saw it (its waits for a CPU included), by
    shape (``statement_shape``), into ``stats``."""
    from django.db import connection

    def timed(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            stats[statement_shape(sql)].append(time.perf_counter() - began)

    with connection.execute_wrapper(timed):
        yield stats


def longest(stats: dict[str, list[float]], verb: str = "") -> float:
    return round(max((max(v) for k, v in stats.items() if k.startswith(verb)), default=0.0), 4)


def run_cleanup() -> dict:
    """authserver.tasks.clear_expired_tokens in-process, with per-statement timings: as this
    process saw them (its waits for a CPU on a loaded machine included) and as PostgreSQL
    measured them."""
    from authserver.ops import cleanup
    from authserver.tasks import clear_expired_tokens

    stats: dict[str, list[float]] = defaultdict(list)
    server: dict[str, list[float]] = defaultdict(list)

    # A batch is one transaction (authserver.ops.cleanup): its row locks last as long as it.
    batches: list[float] = []
    observe = cleanup.BatchSize.observe

    def timed_observe(size, seconds: float) -> None:
        batches.append(seconds)
        observe(size, seconds)

    started = time.perf_counter()
    cleanup.BatchSize.observe = timed_observe
    try:
        with server_timings(server), timed_statements(stats):
            clear_expired_tokens()
    finally:
        cleanup.BatchSize.observe = observe
    elapsed = time.perf_counter() - started
    return {
        "seconds": round(elapsed, 2),
        "max_statement_s": longest(stats),
        "max_delete_s": longest(stats, "DELETE"),
        "max_statement_server_s": longest(server),
        "max_delete_server_s": longest(server, "DELETE"),
        "max_batch_s": round(max(batches, default=0.0), 3),
        "batches": len(batches),
        "statements": _by_longest(stats),
        "server_statements": _by_longest(server),
    }


def _by_longest(stats: dict[str, list[float]]) -> dict:
    return {
        k: {"count": len(v), "total_s": round(sum(v), 2), "max_s": round(max(v), 3)}
        for k, v in sorted(stats.items(), key=lambda kv: -max(kv[1]))
    }
