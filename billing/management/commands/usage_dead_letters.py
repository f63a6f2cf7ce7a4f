"""`manage.py usage_dead_letters [--show ID] [--replay [ID ...]]`: usage events the ledger could not write."""
from django.core.management.base import BaseCommand, CommandError

from billing.dead_letters import dead_letter_replay
from billing.models import UsageDeadLetter

# Rows listed without --all: the newest, enough to see what is failing.
LIST_MAX = 50
# The error as listed: its first line, shortened (--show prints it whole).
ERROR_COLUMN = 100


class Command(BaseCommand):
    help = (
        "List the usage events the ledger dead-lettered (malformed, or refused by the database) with their "
        "errors; --show prints one event and its error; --replay writes them into the ledger again (after a "
        "fix), each once: a written event leaves this table in the same transaction."
    )

    def add_arguments(self, parser):
        parser.add_argument("--show", metavar="EVENT_ID", help="print one dead letter's event JSON and error")
        parser.add_argument("--replay", nargs="*", metavar="EVENT_ID",
                            help="replay these dead letters (all of them when no id is given)")
        parser.add_argument("--all", dest="every", action="store_true",
                            help=f"list every row, not the newest {LIST_MAX}")

    def handle(self, *args, show=None, replay=None, every=False, **options):
        if show is not None:
            return self._show(show)
        if replay is not None:
            return self._replay(replay)
        rows = UsageDeadLetter.objects.all()
        self.stdout.write(f"{rows.count()} dead-lettered usage events")
        for row in rows if every else rows[:LIST_MAX]:
            error = row.error.splitlines()[0][:ERROR_COLUMN] if row.error else ""
            self.stdout.write(f"{row.created_at:%Y-%m-%d %H:%M:%S} {row.event_id} tenant={row.tenant_id} {error}")

    def _show(self, event_id):
        row = UsageDeadLetter.objects.filter(event_id=event_id).first()
        if row is None:
            raise CommandError(f"no dead letter {event_id!r}")
        self.stdout.write(row.event)
        self.stdout.write(row.error)

    def _replay(self, ids):
        rows = UsageDeadLetter.objects.order_by("created_at")
        if ids:
            rows = rows.filter(event_id__in=ids)
        written = failed = 0
        for row in rows.iterator():
            if dead_letter_replay(row):
                written += 1
            else:
                failed += 1
        self.stdout.write(f"replayed: {written} written into the ledger, {failed} still dead-lettered")
