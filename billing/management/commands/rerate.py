"""`manage.py rerate --from 2026-11-01 --to 2026-11-30 [--tenant SLUG] [--dry-run] [--no-rollups]`: re-rate a period."""
from datetime import UTC, date, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError

from analytics.rollups import rollup_period
from billing.rerate import rerate
from gateway.models import Tenant


def _day(text):
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {text!r}") from None


class Command(BaseCommand):
    help = (
        "Recompute the cost of every ledger row in a period (UTC days, both included) with the prices in force "
        "at each call, and record the differences as rating adjustments; the ledger itself is never changed. "
        "Running it again with unchanged prices adds nothing. The rollups that reports read are rebuilt for "
        "those days afterwards, unless --no-rollups."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD", help="first day (UTC)")
        parser.add_argument("--to", dest="end", required=True, metavar="YYYY-MM-DD", help="last day (UTC), included")
        parser.add_argument("--tenant", metavar="SLUG", help="only this tenant's calls")
        parser.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
        parser.add_argument("--no-rollups", action="store_true",
                            help="leave the rollups as they are (rebuild them later with rebuild_rollups)")

    def handle(self, *args, start, end, tenant=None, dry_run=False, no_rollups=False, **options):
        first, last = _day(start), _day(end)
        if last < first:
            raise CommandError("--to is before --from")
        tenant_id = None
        if tenant is not None:
            tenant_id = Tenant.objects.filter(slug=tenant).values_list("pk", flat=True).first()
            if tenant_id is None:
                raise CommandError(f"no tenant with slug {tenant!r}")
        begin = datetime.combine(first, time.min, tzinfo=UTC)
        finish = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
        result = rerate(begin, finish, tenant_id=tenant_id, dry_run=dry_run)
        scope = f" tenant {tenant}" if tenant else ""
        self.stdout.write(
            f"rerate {first}..{last} (UTC){scope}: {result.rows_scanned} rows, {result.rows_adjusted} adjusted, "
            f"{result.rows_skipped} skipped"
        )
        self.stdout.write(
            f"old total {result.old_total} USD, new total {result.new_total} USD, difference {result.delta:+} USD"
        )
        self.stdout.write("dry run: nothing written" if dry_run else f"run {result.run_id}")
        if dry_run or no_rollups or not result.rows_adjusted:
            return
        # UTC days first..last hold calls of local days first-1..last+1 in some time zone: rebuild those.
        tenant_ids = None if tenant_id is None else [tenant_id]
        written = rollup_period(first - timedelta(days=1), last + timedelta(days=1), tenant_ids)
        self.stdout.write(f"rollups rebuilt for {first - timedelta(days=1)}..{last + timedelta(days=1)}: "
                          f"{written['hour']} hour rows, {written['day']} day rows")
