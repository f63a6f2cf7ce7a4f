"""`manage.py seed_demo`: create the demo tenant, admin, mock route and key if missing.

Idempotent. Secrets are printed only by the run that creates them, to stdout and
never to a log, because they are stored hashed and cannot be shown again; that run
also writes the banner to var/first-run.txt (mode 0600), since a terminal scrolls away.
"""
from django.conf import settings
from django.core.management.base import BaseCommand

from gateway.services.demo import demo_banner, demo_seed, first_run_file_write, first_run_path


class Command(BaseCommand):
    help = "Seed the demo tenant (slug demo), its admin, the mock provider, the demo route and a demo key."

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url", default=settings.SITE_URL, help="URL shown in the printed links (default: SITE_URL)"
        )

    def handle(self, *args, base_url, **options):
        seed = demo_seed()
        if not seed.created_secrets:
            self.stdout.write("The demo installation already exists; nothing to create.")
            self.stdout.write(demo_banner(base_url, seed), ending="")
        else:
            banner = demo_banner(base_url, seed, first_run_file=first_run_path())
            first_run_file_write(banner)
            self.stdout.write(banner, ending="")
        self.stdout.flush()
