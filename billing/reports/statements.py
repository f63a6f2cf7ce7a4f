"""Monthly statements (chargeback) per tenant and per team, from day rollups."""
from __future__ import annotations

from datetime import date

from django.db.models import Max, Sum
from django.utils import timezone

from analytics.models import Grouping
from billing.reports.labels import labeler
from billing.reports.params import Query, month_bounds
from billing.reports.queries import COUNTS, MONEY, SUMS, money, rollups, totals


def statement(tenant, month: date, team=None) -> dict:
    """Lines by team and model (tenant statement) or by key and model (team statement)."""
    first, last = month_bounds(month)
    by = "key" if team else "team"
    filters = {"team_id": team.pk} if team else {}
    query = Query([tenant], first, last, dimension=by, period="month", filters=filters)
    source = rollups(query, grouping=Grouping.DETAIL)
    grouped = source.values(f"{by}_id", "model").annotate(**{name: Sum(name) for name in SUMS}).order_by()
    rows = list(grouped)
    label = labeler(by, [row[f"{by}_id"] for row in rows], [tenant])
    lines = [_line(row, by, label) for row in rows]
    lines.sort(key=lambda line: (line["group"], line["model"]))
    built = source.aggregate(as_of=Max("built_at"))["as_of"]
    return {
        "kind": "team" if team else "tenant",
        "tenant": {"slug": tenant.slug, "name": tenant.name, "time_zone": tenant.time_zone},
        "team": {"id": team.pk, "name": team.name} if team else None,
        "month": month.strftime("%Y-%m"), "period_start": first.isoformat(), "period_end": last.isoformat(),
        "currency": "USD", "group_by": by,
        "lines": lines, "subtotals": _subtotals(lines), "totals": totals(lines),
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "data_as_of": built.isoformat(timespec="seconds") if built else None,
    }


def _line(row: dict, by: str, label) -> dict:
    line = {"group_id": row[f"{by}_id"], "group": label(row[f"{by}_id"]), "model": row["model"] or "(none)"}
    line.update({name: row[name] for name in COUNTS})
    line.update({name: money(row[name]) for name in MONEY})
    return line


def _groups(lines: list[dict]) -> dict:
    groups: dict = {}
    for line in lines:
        groups.setdefault((line["group"], line["group_id"]), []).append(line)
    return groups


def _subtotals(lines: list[dict]) -> list[dict]:
    return [{"group": name, "group_id": gid, **totals(members)} for (name, gid), members in _groups(lines).items()]


def sections(data: dict) -> list[dict]:
    """For the PDF: each team's (or key's) lines followed by its subtotal."""
    subtotals = {(s["group"], s["group_id"]): s for s in data["subtotals"]}
    return [{"lines": members, "subtotal": subtotals[group]} for group, members in _groups(data["lines"]).items()]


def csv_columns(data: dict) -> list[tuple[str, str]]:
    group = data["group_by"]
    return [
        ("tenant", "tenant"), ("team", "team"), ("month", "month"),
        ("group_id", f"{group}_id"), ("group", group), ("model", "model"),
        *((name, name) for name in (*COUNTS, *MONEY)),
    ]


def csv_rows(data: dict) -> list[dict]:
    """Statement lines with the statement's context on each (a CSV has no header block)."""
    context = {"tenant": data["tenant"]["slug"], "team": (data["team"] or {}).get("name", ""), "month": data["month"]}
    return [{**context, **line} for line in data["lines"]]
