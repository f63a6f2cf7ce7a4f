"""What the budget reconcile job repaired: a stored figure per repair, beside its log line."""
from django.db import models


class BudgetReconciliation(models.Model):
    """One repair of a budget's counter from the ledger (written only when something was off)."""

    budget = models.ForeignKey("billing.Budget", on_delete=models.CASCADE, related_name="reconciliations")
    period = models.CharField(max_length=16)  # the counter's period label: d20250401, w..., m202504, total
    period_start = models.DateTimeField()
    ran_at = models.DateTimeField(auto_now_add=True)
    ledger_usd = models.DecimalField(max_digits=20, decimal_places=12)  # the period's spend per the ledger
    # Added to the counter: positive when it had missed spend, negative when it had counted too much.
    drift_usd = models.DecimalField(max_digits=20, decimal_places=12)
    lapsed_reservations = models.PositiveIntegerField(default=0)  # holds of calls that never settled
    reserved_usd = models.DecimalField(max_digits=20, decimal_places=6)  # still held by calls in flight

    class Meta:
        ordering = ["-ran_at"]
        indexes = [models.Index(fields=["budget", "ran_at"], name="budget_recon_time")]

    def __str__(self):
        return f"budget {self.budget_id} {self.period}: drift {self.drift_usd} USD"
