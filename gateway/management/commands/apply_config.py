"""`manage.py apply_config FILE.yaml`: create or update providers, routes, tenants, users, keys and budgets."""
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from gateway.services.config_apply import config_apply
from gateway.services.config_schema import ConfigError


class Command(BaseCommand):
    help = (
        "Apply a Switchyard YAML config file: upsert what it lists, leave everything else alone. "
        "The whole file is checked first and applied in one transaction (all or nothing)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the YAML file (see deploy/examples/switchyard.yaml)")
        parser.add_argument(
            "--dry-run", action="store_true", help="check the file and list what would change; write nothing"
        )

    def handle(self, *args, file, dry_run=False, **options):
        try:
            result = config_apply(file, dry_run=dry_run)
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            # Rolled back by the transaction. The first line only: the detail may quote row values.
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CommandError(f"{file}: database error, nothing was changed: {reason}") from None
        for where, message in result.warnings:
            self.stderr.write(f"warning: {file}: {where}: {message}")
        for change in result.changes:
            self.stdout.write(change.describe(dry_run))
        for label, secret in result.secrets:
            self.stdout.write(f"key {label}: {secret}  (store it now; it is not shown again)")
        self.stdout.write(self._summary(file, result, dry_run))

    def _summary(self, file, result, dry_run):
        if not result.changes:
            return f"{file}: no changes"
        count = len(result.changes)
        return f"{file}: {count} change{'s' if count != 1 else ''}{' (dry run, nothing written)' if dry_run else ''}"
