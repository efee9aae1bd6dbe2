"""Paired ratios: each target case and its reference, alternating in short rounds.

A case measured once and its reference measured minutes later see different machines on a
shared host: other tenants' work moved single-run ratios by up to 2x between full runs
(docs/performance.md, "Issue 34, last steps"). Here each round runs the case and its
reference back to back (ABBA order, so a drift within a round falls on both sides), and the
verdict is the median of the rounds' ratios; CPU per request comes from /proc for the same
seconds. ``bench/verifier_ratio.py`` does the same for the in-process verifier.
"""

from __future__ import annotations

import os
import statistics

from bench import dbstats

# (case, reference): each target of issue 34 that compares a case with a floor, and the
# measured limit a token row sets (the token floor against the signature floor).
PAIRS = (
    ("floor_token", "floor_sig_raw"),
    ("a", "floor_token"),
    ("b", "floor_token"),
    ("code", "floor_token"),
    ("b", "floor_redeem"),
    ("code", "floor_redeem"),
    ("g", "floor_intro"),
    ("f", "floor_reg"),
    ("c200", "floor"),
    ("c304", "floor"),
    ("d", "floor"),
    ("e", "floor"),
    ("e304", "floor"),
    # Paced at the same rate: the verdict is the median of the rounds' p99 (docs/AUTHZEN.md).
    ("h500", "floor500"),
)
ROUNDS = 5
SECONDS = 2.0
TICKS = os.sysconf("SC_CLK_TCK")


def _measured(bench, port: int, case, seconds: float) -> tuple[object, float | None]:
    """One load run of ``case``, and the server's CPU ms per request while it ran."""
    pid = bench.server_pids.get(port)
    before = dbstats.cpu_ticks({"server": pid}) if pid else None
    result = bench.measure(port, case, seconds)
    if before is None or not result.requests:
        return result, None
    used = dbstats.cpu_ticks({"server": pid})["server"] - before["server"]
    return result, used * 1000 / TICKS / result.requests


def run(bench, cases: dict, log, *, rounds: int = ROUNDS, seconds: float = SECONDS) -> dict:
    """``cases``: key -> (port, Case), fresh from ``bench.http_cases()``."""
    out: dict = {}
    for key, ref in PAIRS:
        if key not in cases or ref not in cases:
            continue
        rps_ratios, cpu_ratios, cpu_ms = [], [], {key: [], ref: []}
        rps_of: dict[str, list[float]] = {key: [], ref: []}
        p99s: dict[str, list[float]] = {key: [], ref: []}
        for i in range(rounds):
            sides = (key, ref) if i % 2 == 0 else (ref, key)  # ABBA: drift falls on both
            rps, cpu = {}, {}
            for side in sides:
                result, cpu[side] = _measured(bench, *cases[side], seconds)
                if result.errors:
                    raise RuntimeError(f"pair {key}/{ref}: {side} had {result.errors} errors")
                rps[side] = result.rps
                rps_of[side].append(result.rps)
                p99s[side].append(result.p99_ms)
                if cpu[side] is not None:
                    cpu_ms[side].append(cpu[side])
            rps_ratios.append(rps[key] / rps[ref])
            if cpu[key] and cpu[ref]:
                cpu_ratios.append(cpu[key] / cpu[ref])
        row = {
            "rounds": rounds,
            "seconds": seconds,
            "ratio": round(statistics.median(rps_ratios), 3),
            "ratios": [round(r, 3) for r in rps_ratios],
            "cpu_ratio": round(statistics.median(cpu_ratios), 2) if cpu_ratios else None,
            "p99_ms": {side: round(statistics.median(v), 2) for side, v in p99s.items()},
            "rps": {side: round(statistics.median(v), 1) for side, v in rps_of.items()},
            "cpu_ms_per_request": {
                side: round(statistics.median(v), 3) for side, v in cpu_ms.items() if v
            },
        }
        out[f"{key}/{ref}"] = row
        log(
            f"pair {key:>5}/{ref:<12} median {row['ratio']:.3f} "
            f"(rounds {min(rps_ratios):.3f}-{max(rps_ratios):.3f}), CPU {row['cpu_ratio']}x "
            f"{row['cpu_ms_per_request']}, p99 ms {row['p99_ms']}"
        )
    return out
