"""Seal pending audit events, then verify the whole hash chain; exit 1 if it is broken."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from authserver import audit


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain (finds edited, removed or reordered events)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-seal", action="store_true", help="only verify")

    def handle(self, *args, **opts) -> None:
        if not opts["no_seal"]:
            audit.seal_pending()
        report = audit.verify_chain()
        self.stdout.write(json.dumps(report.__dict__))
        if not report.ok:
            raise CommandError(
                f"audit chain broken at index {report.first_bad_index}: {report.reason}"
            )
