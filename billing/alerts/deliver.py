"""Sending due deliveries, with retries that never duplicate the alert itself.

A delivery row is locked (SKIP LOCKED) while it is sent, so two workers never
send it twice concurrently. Sending is at-least-once: a crash after the
receiver accepted but before the commit sends it again, which is why webhooks
carry x-switchyard-event-id.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction

from billing.alerts.channels import send
from billing.alerts.http import DeliveryError
from billing.models import AlertDelivery

log = logging.getLogger(__name__)

# 1 + 5 retries, 1, 2, 4, 8 and 16 minutes apart: rides out a receiver's
# restart or a short outage (about half an hour) without alerting days late.
MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(minutes=1)
# Bounds one evaluation run; the rest go out on the next run a minute later.
BATCH = 200
DUE = (AlertDelivery.Status.PENDING, AlertDelivery.Status.RETRYING)


def deliveries_send_due(now: datetime) -> int:
    due = AlertDelivery.objects.filter(status__in=DUE, next_attempt_at__lte=now).order_by("next_attempt_at", "id")
    sent = 0
    for delivery_id in list(due.values_list("id", flat=True)[:BATCH]):
        sent += delivery_attempt(delivery_id, now)
    return sent


def delivery_attempt(delivery_id: int, now: datetime) -> bool:
    with transaction.atomic():
        delivery = (
            AlertDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event__tenant", "channel")
            .filter(pk=delivery_id, status__in=DUE, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return False  # another worker has it, or it is done
        delivery.attempts += 1
        try:
            _send(delivery)
        except DeliveryError as exc:
            _record_failure(delivery, str(exc), now)
            return False
        delivery.status, delivery.sent_at, delivery.last_error = AlertDelivery.Status.SENT, now, ""
        delivery.next_attempt_at = None
        delivery.save(update_fields=["status", "sent_at", "last_error", "attempts", "next_attempt_at", "updated_at"])
        return True


def _send(delivery: AlertDelivery) -> None:
    channel = delivery.channel
    if channel is None:
        raise DeliveryError("the channel was deleted")
    if not channel.enabled:
        raise DeliveryError("the channel is disabled")
    send(channel, delivery.event)


def _record_failure(delivery: AlertDelivery, error: str, now: datetime) -> None:
    final = delivery.attempts >= MAX_ATTEMPTS or delivery.channel is None or not delivery.channel.enabled
    delivery.last_error = error[:300]
    if final:
        delivery.status, delivery.next_attempt_at = AlertDelivery.Status.FAILED, None
    else:
        delivery.status = AlertDelivery.Status.RETRYING
        delivery.next_attempt_at = now + FIRST_RETRY * 2 ** (delivery.attempts - 1)
    delivery.save(update_fields=["status", "last_error", "attempts", "next_attempt_at", "updated_at"])
    log.warning("alert delivery %s to %s failed (attempt %s): %s",
                delivery.pk, delivery.channel_name, delivery.attempts, delivery.last_error)
