"""The FinOps FOCUS 1.1 export: one charge row per tenant-local day and detail rollup row.

Mapping (what the ledger can say; the rest is left empty, as FOCUS allows):
  BillingAccount = the tenant, SubAccount = the team (chargeback unit),
  Resource = the API key, Service = the upstream model, Provider/Publisher/
  InvoiceIssuer = the provider deployment the call went to, Sku = provider/model.
  Billed = Effective = List = Contracted cost: the ledger prices each call at
  the catalogue price in force (negotiated overrides included), no discounts
  or commitments are applied afterwards. Quantities are tokens (input + output).
  Charge periods are the tenant-local day, billing periods its local month,
  both as UTC instants. Columns prefixed x_ are Switchyard's own.
"""
from __future__ import annotations

import json
from datetime import UTC, timedelta

from analytics.models import Grouping
from analytics.rollups import local_midnight, zone_of
from billing.reports.labels import labeler
from billing.reports.params import Query, month_bounds
from billing.reports.queries import money, rollups

FOCUS_VERSION = "1.1"
COLUMNS = [
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "CapacityReservationId", "CapacityReservationStatus",
    "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd",
    "ChargePeriodStart", "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountQuantity", "CommitmentDiscountStatus", "CommitmentDiscountType", "CommitmentDiscountUnit",
    "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
    "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "ServiceSubcategory", "SkuId", "SkuMeter", "SkuPriceDetails",
    "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
    "x_Requests", "x_Errors", "x_CacheHits", "x_InputTokens", "x_OutputTokens", "x_CachedTokens",
    "x_ReasoningTokens", "x_CacheSavedCost", "x_Route", "x_UserId",
]
EXTRA = {
    "x_Requests": "requests", "x_Errors": "errors", "x_CacheHits": "cache_hits", "x_InputTokens": "input_tokens",
    "x_OutputTokens": "output_tokens", "x_CachedTokens": "cached_tokens", "x_ReasoningTokens": "reasoning_tokens",
}


def instant(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def focus_rows(query: Query) -> list[dict]:
    rows = list(rollups(query, Grouping.DETAIL).order_by("day", "tenant_id", "team_id", "key_id", "model").values())
    labels = {dim: labeler(dim, [row[f"{dim}_id"] for row in rows], query.tenants) for dim in ("team", "key", "user")}
    tenants = {tenant.pk: (tenant, zone_of(tenant.time_zone)) for tenant in query.tenants}
    return [_charge(row, *tenants[row["tenant_id"]], labels) for row in rows]


def _charge(row: dict, tenant, zone, labels) -> dict:
    cost, tokens = money(row["cost_usd"]), row["input_tokens"] + row["output_tokens"]
    first, last = month_bounds(row["day"].replace(day=1))
    team, key, user = row["team_id"], row["key_id"], row["user_id"]
    model, provider, route = row["model"], row["provider"], row["route"]
    charge = {
        "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost, "ContractedCost": cost,
        "BillingAccountId": tenant.slug, "BillingAccountName": tenant.name, "BillingCurrency": "USD",
        "BillingPeriodStart": instant(local_midnight(first, zone)),
        "BillingPeriodEnd": instant(local_midnight(last + timedelta(days=1), zone)),
        "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based",
        "ChargeDescription": f"{row['requests']} requests to {model or 'no model'} via route {route or '-'}",
        "ChargePeriodStart": instant(row["bucket_start"]),
        "ChargePeriodEnd": instant(local_midnight(row["day"] + timedelta(days=1), zone)),
        "ConsumedQuantity": tokens, "ConsumedUnit": "Tokens", "PricingQuantity": tokens, "PricingUnit": "Tokens",
        "PricingCategory": "Standard",
        "ProviderName": provider, "PublisherName": provider, "InvoiceIssuerName": provider,
        "ResourceId": "" if key is None else str(key), "ResourceName": labels["key"](key) if key else "",
        "ResourceType": "API Key" if key else "",
        "ServiceCategory": "AI and Machine Learning", "ServiceSubcategory": "Generative AI", "ServiceName": model,
        "SkuId": f"{provider}/{model}", "SkuMeter": "Tokens",
        "SubAccountId": "" if team is None else str(team), "SubAccountName": labels["team"](team) if team else "",
        "Tags": json.dumps({"switchyard/route": route, "switchyard/user": labels["user"](user) if user else ""}),
        "x_CacheSavedCost": money(row["cost_saved_usd"]), "x_Route": route, "x_UserId": user,
    }
    charge.update({column: row[name] for column, name in EXTRA.items()})
    return charge


def csv_columns() -> list[tuple[str, str]]:
    return [(name, name) for name in COLUMNS]

