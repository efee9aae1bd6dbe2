"""Print sealed audit events after a cursor as NDJSON, for a log shipper (see docs/ADMIN.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from authserver.admin import audit_stream


class Command(BaseCommand):
    help = "Print sealed audit events after --since (a chain index), one JSON object a line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", type=int, default=0, help="last chain_index already read")
        parser.add_argument("--limit", type=int, default=audit_stream.DEFAULT_LIMIT)

    def handle(self, *args, **opts) -> None:
        since = max(opts["since"], 0)
        limit = min(max(opts["limit"], 1), audit_stream.MAX_LIMIT)
        for line in audit_stream.lines(audit_stream.sealed_after(since, limit)):
            self.stdout.write(line, ending="")
