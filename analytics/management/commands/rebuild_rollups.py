"""`manage.py rebuild_rollups --from 2025-01-01 --to 2025-01-31 [--tenant SLUG]`."""
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from analytics.rollups import rollup_period
from gateway.models import Tenant


def _date(value):
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = (
        "Rebuild the hour buckets of the UTC dates FROM..TO and the day buckets of each tenant's "
        "local dates FROM..TO from the usage ledger (idempotent). Run it after a late spool "
        "replay, a re-rating, or a change of a tenant's time zone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", type=_date, required=True, help="first date, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", type=_date, required=True, help="last date (inclusive)")
        parser.add_argument("--tenant", help="only this tenant (slug)")

    def handle(self, *args, first, last, tenant=None, **options):
        if last < first:
            raise CommandError("--to is before --from")
        tenant_ids = None
        if tenant:
            tenant_ids = list(Tenant.objects.filter(slug=tenant).values_list("id", flat=True))
            if not tenant_ids:
                raise CommandError(f"no tenant {tenant!r}")
        written = rollup_period(first, last, tenant_ids)
        self.stdout.write(f"rebuilt {first}..{last}: {written['hour']} hour rows, {written['day']} day rows")
