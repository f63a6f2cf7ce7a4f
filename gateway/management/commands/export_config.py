"""`manage.py export_config`: the current configuration as an apply_config file (secrets omitted)."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gateway.services.config_export import config_dump, config_export


class Command(BaseCommand):
    help = "Write the configuration as apply_config YAML (no API keys, key secrets or passwords)."

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
        parser.add_argument(
            "--tenant", metavar="SLUG", help="only this tenant (shared providers and routes are left out)"
        )

    def handle(self, *args, output=None, tenant=None, **options):
        try:
            text = config_dump(config_export(tenant_slug=tenant))
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
        self.stderr.write(f"wrote {output}")
