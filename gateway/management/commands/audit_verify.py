"""Walk the audit log's hash chain; fail on the first altered, inserted or removed row."""
from django.core.management.base import BaseCommand, CommandError

from gateway.models import AuditEvent

BATCH = 2000  # rows per query: bounded memory on large logs


class Command(BaseCommand):
    help = "Verify the audit log's hash chain."

    def handle(self, *args, **options):
        prev_hash, count = "", 0
        for event in AuditEvent.objects.order_by("id").iterator(chunk_size=BATCH):
            if event.prev_hash != prev_hash or event.compute_hash() != event.hash:
                raise CommandError(f"audit chain broken at event {event.pk} (after {count} intact events)")
            prev_hash, count = event.hash, count + 1
        self.stdout.write(f"audit chain intact: {count} events")
