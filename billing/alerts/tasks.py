"""The alerts beat task: decide (thresholds, anomalies), then send what is due."""
from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from billing.alerts.deliver import deliveries_send_due
from billing.alerts.evaluate import anomalies_evaluate, thresholds_evaluate


@shared_task(name="billing.alerts_evaluate", ignore_result=True)
def alerts_evaluate() -> dict:
    now = timezone.now()
    thresholds = thresholds_evaluate(now)
    anomalies = anomalies_evaluate(now)
    return {"thresholds": len(thresholds), "anomalies": len(anomalies), "sent": deliveries_send_due(now)}
