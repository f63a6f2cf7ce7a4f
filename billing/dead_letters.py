"""The ledger's dead letters: usage events it could not write, kept with the reason, replayable.

A dead-lettered event is never also in the ledger: it is saved only when its id is not there,
and a replay that writes it deletes its letter in the same transaction.
"""
from __future__ import annotations

import hashlib
import json
import logging
import uuid

from django.db import transaction

from billing.models import UsageDeadLetter, UsageRecord
from billing.usage_text import clean_text

log = logging.getLogger("switchyard.ledger")

# The error as kept and logged: the database's message and detail, not a traceback.
ERROR_MAX = 2000
# The error's first line in the log line (the full text is in the row).
LOG_ERROR_MAX = 200
_BIGINT = (-(2**63), 2**63 - 1)  # tenant_id's column


def _text_of(event) -> str:
    # ASCII JSON: NUL and lone surrogates become escapes; what JSON cannot carry becomes its repr.
    return json.dumps(event, ensure_ascii=True, separators=(",", ":"), default=repr)


def _key(event, text: str) -> str:
    raw = event.get("event_id") if isinstance(event, dict) else None
    try:
        return str(uuid.UUID(raw))
    except (TypeError, ValueError, AttributeError):
        return hashlib.sha256(text.encode()).hexdigest()  # 64 hex digits: the column's length


def _tenant(event):
    value = event.get("tenant_id") if isinstance(event, dict) else None
    ok = isinstance(value, int) and not isinstance(value, bool) and _BIGINT[0] <= value <= _BIGINT[1]
    return value if ok else None


def _error(exc: BaseException | str) -> str:
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return clean_text(text.strip(), ERROR_MAX)


def _letter(event, error) -> UsageDeadLetter:
    # Raw text (an undecodable entry) may hold NUL, which a PostgreSQL text column refuses.
    text = event.replace("\x00", "\\x00") if isinstance(event, str) else _text_of(event)
    return UsageDeadLetter(event_id=_key(event, text), tenant_id=_tenant(event), event=text, error=_error(error))


def _in_ledger(keys: list[str]) -> set[str]:
    ids = []
    for key in keys:
        try:
            ids.append(uuid.UUID(key))
        except ValueError:
            continue  # a hash: the event had no id, so it cannot be in the ledger
    return {str(u) for u in UsageRecord.objects.filter(event_id__in=ids).values_list("event_id", flat=True)}


def dead_letters_save(refused: list[tuple[object, BaseException | str]]) -> int:
    """Keep each (event, error) in the dead-letter table; an ERROR line for each one new there.

    `event` is a decoded event, or the raw text of one that could not be decoded. Returns how
    many were new (a redelivered bad event is kept, and reported, once).
    """
    if not refused:
        return 0
    letters = {}
    for event, error in refused:
        letter = _letter(event, error)
        letters.setdefault(letter.event_id, letter)
    skip = _in_ledger(list(letters)) | set(
        UsageDeadLetter.objects.filter(event_id__in=list(letters)).values_list("event_id", flat=True))
    new = [letter for key, letter in letters.items() if key not in skip]
    UsageDeadLetter.objects.bulk_create(new, ignore_conflicts=True)
    for letter in new:
        # One line per event, no content: its id, its tenant and why (the row holds the event).
        log.error("usage event %s (tenant %s) dead-lettered, not in the ledger: %s", letter.event_id,
                  letter.tenant_id, letter.error.splitlines()[0][:LOG_ERROR_MAX] if letter.error else "")
    return len(new)


def dead_letter_replay(letter: UsageDeadLetter) -> bool:
    """Write one dead-lettered event into the ledger (after a fix); True when it is there and the letter gone."""
    from billing.ledger import ledger_write  # the ledger dead-letters through this module

    try:
        event = json.loads(letter.event)
    except ValueError:
        return False  # it never was JSON: nothing to write
    with transaction.atomic():
        ledger_write([event])
        written = letter.event_id in _in_ledger([letter.event_id])
        if written:
            letter.delete()
    return written
