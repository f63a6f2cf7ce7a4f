"""Channel transports: e-mail, Slack-compatible webhook, signed generic webhook.

Each transport takes (channel, event, attempt) and returns normally or raises
DeliveryError; deliver.py records the outcome. One HTTP chokepoint (http.py).
"""
from __future__ import annotations

import json
import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from billing.alerts import signing
from billing.alerts.http import DeliveryError, post_json
from billing.models import AlertChannel, AlertEvent


def email_addresses(target: str) -> list[str]:
    return [a.strip() for a in target.replace("\n", ",").replace(";", ",").split(",") if a.strip()]


def event_context(event: AlertEvent) -> dict:
    return {"event": event, "payload": event.payload, "tenant": event.tenant, "site_url": settings.SITE_URL}


def send_email(channel: AlertChannel, event: AlertEvent) -> None:
    context = event_context(event)
    subject = " ".join(render_to_string("emails/alert_subject.txt", context).split())  # one line, always
    message = EmailMultiAlternatives(
        subject=subject, body=render_to_string("emails/alert.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL, to=email_addresses(channel.target),
    )
    message.attach_alternative(render_to_string("emails/alert.html", context), "text/html")
    try:
        message.send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"the mail server refused the message ({type(exc).__name__})") from None


def send_slack(channel: AlertChannel, event: AlertEvent) -> None:
    body = json.dumps({"text": f"[Switchyard] {event.message}"}).encode()
    post_json(channel.target, body, {})


def webhook_body(event: AlertEvent) -> bytes:
    document = {
        "id": event.pk,
        "type": f"alert.{event.kind}",
        "created_at": event.created_at.isoformat(),
        "tenant": {"id": event.tenant_id, "slug": event.tenant.slug},
        "budget_id": event.budget_id,
        "threshold": event.threshold or None,
        "subject": event.subject,
        "period_start": event.period_start.isoformat(),
        "text": event.message,
        "data": event.payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def send_webhook(channel: AlertChannel, event: AlertEvent) -> None:
    body = webhook_body(event)
    headers = {
        signing.HEADER: signing.sign(channel.secret, body),
        # Deliveries are at-least-once: receivers de-duplicate on this id.
        "x-switchyard-event-id": str(event.pk),
        "user-agent": "Switchyard-Alerts/1",
    }
    post_json(channel.target, body, headers)


TRANSPORTS = {
    AlertChannel.Kind.EMAIL: send_email,
    AlertChannel.Kind.SLACK: send_slack,
    AlertChannel.Kind.WEBHOOK: send_webhook,
}


def send(channel: AlertChannel, event: AlertEvent) -> None:
    TRANSPORTS[channel.kind](channel, event)
