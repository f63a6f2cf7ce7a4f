"""The semantic cache's database work. Every function here runs in a worker thread.

Raw SQL on Django's connection, not the ORM (the data plane imports no models):
the cache step calls these through asyncio.to_thread, where each thread has
its own connection, closed when too old as the snapshot builder's are. The
same SQL runs on PostgreSQL and on embedded mode's SQLite. Writes go the same
way, in a background task once the answer has been sent, rather than through
Celery: a write must be visible to the next lookup within milliseconds, and a
write lost with a dying process costs only a later miss.
"""
from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import close_old_connections, connection

PURGE_ONE_IN = 100  # expired rows are deleted by one write in a hundred, not by a separate job
LOAD_LIMIT = 10_000  # newest rows per scope held in a process's index: a 384-dim scan of these is ~2 ms
ENTRIES = "gateway_semanticcacheentry"  # gateway/models/cache.py; raw SQL keeps the ORM off the data plane
SHADOW = "gateway_semanticshadowhit"


def _closing(fn):
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()
    return run


def _db_time(moment: datetime):
    return connection.ops.adapt_datetimefield_value(moment)  # what the backend stores (text on SQLite)


def _now():
    return _db_time(datetime.now(UTC))


def _epoch(value) -> float:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@_closing
def load(route_id: int, scope: str, generation: int, after_id: int) -> list[tuple[int, bytes, float]]:
    """(id, vector bytes, expiry epoch) of live rows newer than after_id, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, vector, expires_at FROM {ENTRIES} WHERE route_id = %s AND scope = %s "
                       f"AND generation = %s AND id > %s AND expires_at > %s ORDER BY id DESC LIMIT %s",
                       [route_id, scope, generation, after_id, _now(), LOAD_LIMIT])
        rows = cursor.fetchall()
    return [(pk, bytes(vec), _epoch(expires)) for pk, vec, expires in reversed(rows)]


@_closing
def fetch(entry_id: int) -> tuple[dict, str] | None:
    """(answer, cost) of a live entry."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT answer, cost_usd FROM {ENTRIES} WHERE id = %s AND expires_at > %s",
                       [entry_id, _now()])
        row = cursor.fetchone()
    if row is None:
        return None
    answer = json.loads(row[0]) if isinstance(row[0], (str, bytes)) else row[0]
    return answer, str(Decimal(str(row[1])))


def _insert(table: str, fields: dict) -> int:
    columns = ", ".join(fields)
    jsonb = "::jsonb" if connection.vendor == "postgresql" else ""
    values = ", ".join(f"%s{jsonb}" if name == "answer" else "%s" for name in fields)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({values})"
    with connection.cursor() as cursor:
        if connection.features.can_return_columns_from_insert:
            cursor.execute(sql + " RETURNING id", list(fields.values()))
            return cursor.fetchone()[0]
        cursor.execute(sql, list(fields.values()))
        return cursor.lastrowid


@_closing
def insert(fields: dict, ttl: int, pgvector: bool) -> int:
    now = datetime.now(UTC)
    row = {**fields, "answer": json.dumps(fields["answer"], separators=(",", ":")),
           "cost_usd": str(Decimal(fields["cost_usd"])), "created_at": _db_time(now),
           "expires_at": _db_time(now + timedelta(seconds=ttl))}
    entry_id = _insert(ENTRIES, row)
    if pgvector:
        _set_pgvector(entry_id, fields["vector"])
    if random.randrange(PURGE_ONE_IN) == 0:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {ENTRIES} WHERE route_id = %s AND expires_at <= %s",
                           [fields["route_id"], _db_time(now)])
    return entry_id


@_closing
def record_shadow(fields: dict) -> None:
    _insert(SHADOW, {**fields, "created_at": _now()})


# --- pgvector ------------------------------------------------------------------------------------

@_closing
def pgvector_ready() -> bool:
    """The extension is installed and migration 0004 added the `embedding` column."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
        if cursor.fetchone() is None:
            return False
        cursor.execute("SELECT 1 FROM information_schema.columns "
                       "WHERE table_name = %s AND column_name = 'embedding'", [ENTRIES])
        return cursor.fetchone() is not None


def _literal(vector_bytes: bytes) -> str:
    import numpy as np

    return "[" + ",".join(f"{x:.7g}" for x in np.frombuffer(vector_bytes, dtype="<f4")) + "]"


def _set_pgvector(entry_id: int, vector_bytes: bytes) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {ENTRIES} SET embedding = %s::vector WHERE id = %s", [_literal(vector_bytes), entry_id])


@_closing
def pgvector_search(route_id: int, scope: str, generation: int, vector_bytes: bytes,
                    dims: int) -> tuple[int, float] | None:
    """The nearest live row by cosine similarity; the HNSW index serves dims == 384."""
    cast = f"::vector({int(dims)})"
    sql = (f"SELECT id, 1 - (embedding{cast} <=> %s{cast}) FROM {ENTRIES} "
           f"WHERE dims = %s AND route_id = %s AND scope = %s AND generation = %s AND expires_at > %s "
           f"ORDER BY embedding{cast} <=> %s{cast} LIMIT 1")
    literal = _literal(vector_bytes)
    with connection.cursor() as cursor:
        cursor.execute(sql, [literal, dims, route_id, scope, generation, _now(), literal])
        row = cursor.fetchone()
    return (row[0], float(row[1])) if row else None
