"""Price override writes and reads: validation, no overlapping windows, revisions, what a snapshot loads."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.models import PriceOverride
from gateway.models import Provider

# What a price is: changing any of these is a new revision (the ledger's price version changes with it).
PRICED_FIELDS = (
    "unit", "input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok", "per_hour_usd",
    "valid_from", "valid_to",
)
# Where it applies: fixed once created (a different scope is a different override).
SCOPE_FIELDS = ("tenant_id", "route_id", "provider_id", "model")


@transaction.atomic
def price_override_save(override: PriceOverride) -> PriceOverride:
    """Validate and save; raises django's ValidationError (field -> message) when it cannot be."""
    override.full_clean()
    # One writer per provider at a time: two overlapping windows cannot both pass the check below.
    Provider.objects.select_for_update().filter(pk=override.provider_id).first()
    if override.pk is not None:
        _check_update(override)
    clash = overlapping(override)
    if clash is not None:
        raise ValidationError({"valid_from": _clash_message(clash)})
    override.save()
    return override


def _check_update(override):
    before = PriceOverride.objects.filter(pk=override.pk).values(*SCOPE_FIELDS, *PRICED_FIELDS, "revision").first()
    if before is None:
        return
    moved = [f.removesuffix("_id") for f in SCOPE_FIELDS if before[f] != getattr(override, f)]
    if moved:
        raise ValidationError({moved[0]: "cannot change once created: end this override and create another"})
    if any(before[f] != getattr(override, f) for f in PRICED_FIELDS):
        override.revision = before["revision"] + 1


def overlapping(override: PriceOverride) -> PriceOverride | None:
    """Another override of the same scope whose window meets this one's, if any."""
    scope = {f: getattr(override, f) for f in SCOPE_FIELDS}
    others = PriceOverride.objects.filter(**scope).exclude(pk=override.pk)
    others = others.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=override.valid_from))
    if override.valid_to is not None:
        others = others.filter(valid_from__lt=override.valid_to)
    return others.order_by("valid_from").first()


def _clash_message(clash):
    until = f"until {clash.valid_to.isoformat()}" if clash.valid_to else "with no end"
    return (
        f"overlaps price override {clash.pk} (from {clash.valid_from.isoformat()} {until}) of the same scope; "
        "set that one's valid_to first"
    )


def price_override_delete(override: PriceOverride) -> None:
    """Only a price that never applied may be deleted; one that priced calls is history (end it instead)."""
    if override.valid_from <= timezone.now():
        raise ValidationError(
            {"valid_from": "this price has been in force: set valid_to to end it (re-rating needs its history)"}
        )
    override.delete()


def overrides_in_force(now=None):
    """Overrides a snapshot built at `now` needs: not yet expired (future ones too, so changes land on time)."""
    now = now or timezone.now()
    rows = PriceOverride.objects.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=now))
    return list(rows.filter(provider__enabled=True))
