"""The ledger writer isolates a bad event: the rest of its batch is written, it is dead-lettered (issue 14).

Before, one event the database refused (a 100-character request id) failed the insert of its
whole batch of up to 500, from any tenant, at every retry; one malformed event (a missing field)
raised before the insert. Real PostgreSQL and Redis, no mocks.
"""
import json
import logging
import time
import uuid

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from billing import spool
from billing.ledger import ledger_write
from billing.models import UsageDeadLetter, UsageRecord
from billing.usage_entries import BATCH_FIELD, STREAM
from billing.usage_stream import drain, publish

pytestmark = pytest.mark.django_db  # one process: the test transaction holds the savepoints
BATCH = 500  # the most events one drain read hands the writer


def event(**fields):
    """A usage event as the data plane's usage step builds it."""
    return {
        "event_id": str(uuid.uuid4()), "request_id": uuid.uuid4().hex, "client_request_id": "",
        "created_at": time.time(), "tenant_id": 7, "team_id": None, "key_id": 3, "user_id": None, "route_id": 1,
        "route": "chat", "provider_id": 2, "provider": "openai", "model": "gpt-4o-mini", "ingress": "openai",
        "endpoint": "chat", "stream": False, "status": 200, "error_code": "", "cancelled": False,
        "input_tokens": 10, "output_tokens": 5, "cached_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0,
        "tokens_estimated": False, "ttfb_ms": 12.5, "latency_ms": 30.0, "cost_usd": "0.000004500000",
        "price_version": "genai-prices", "provider_cost_usd": None, "attempts": 1,
        "attempt_log": [{"route": "chat", "provider": "openai", "model": "gpt-4o-mini", "status": 200, "error": "",
                         "ms": 12.5}],
        "cache_status": "", "cost_saved_usd": "0",
    } | fields


def batch_with(bad: dict, position=BATCH // 2):
    events = [event() for _ in range(BATCH - 1)]
    events.insert(position, bad)
    return events


def dead_lettered(caplog):
    return [r for r in caplog.records if r.levelno == logging.ERROR and "dead-lettered" in r.getMessage()]


@pytest.fixture
def stream():
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()


def test_it_writes_499_and_dead_letters_the_one_event_the_database_refuses(caplog):
    # A refusal the checks before the insert cannot foresee (here a constraint, as a later migration
    # might add): the table's DDL is rolled back with the test's transaction.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE billing_usagerecord ADD CONSTRAINT test_no_teapot CHECK (route <> 'teapot')")
    bad = event(route="teapot")
    events = batch_with(bad)
    with caplog.at_level(logging.ERROR, logger="switchyard.ledger"):
        assert ledger_write(events) == BATCH - 1
    assert UsageRecord.objects.count() == BATCH - 1
    assert not UsageRecord.objects.filter(event_id=bad["event_id"]).exists()
    letter = UsageDeadLetter.objects.get()
    assert (letter.event_id, letter.tenant_id) == (bad["event_id"], 7) and "IntegrityError" in letter.error
    assert json.loads(letter.event)["request_id"] == bad["request_id"]
    assert len(dead_lettered(caplog)) == 1 and bad["event_id"] in dead_lettered(caplog)[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="switchyard.ledger"):
        assert ledger_write(events) == 0  # a redelivery: nothing twice, no second alert
    assert (UsageRecord.objects.count(), UsageDeadLetter.objects.count(), dead_lettered(caplog)) == (BATCH - 1, 1, [])


@pytest.mark.parametrize("bad", [
    {"created_at": "yesterday"},
    {"created_at": 1e20},
    {"status": None},
    {"input_tokens": "5"},
    {"output_tokens": 2**40},
    {"cost_usd": "a lot"},
    {"cost_usd": "1e9"},
    {"cost_usd": "99999999.9999999999999"},  # fits until rounded to 12 places
    {"stream": "yes"},
    {"event_id": "not-a-uuid"},
    {"event_id": None},
], ids=lambda bad: next(iter(bad)) + "=" + repr(next(iter(bad.values())))[:12])
def test_it_dead_letters_a_malformed_event_and_writes_the_rest(bad):
    events = batch_with(event(**bad), position=0)
    assert ledger_write(events) == BATCH - 1
    assert UsageRecord.objects.count() == BATCH - 1
    letter = UsageDeadLetter.objects.get()
    assert next(iter(bad)) in letter.error  # names the field
    assert ledger_write(events) == 0 and UsageDeadLetter.objects.count() == 1


def test_it_dead_letters_an_event_that_is_no_object():
    assert ledger_write([event(), ["not", "an", "event"], event()]) == 2
    assert "expected an object" in UsageDeadLetter.objects.get().error


def test_it_stores_poisoned_text_bounded_to_its_column():
    poisoned = event(
        request_id="r" * 100, client_request_id="c" * 300, route="chat\x00" * 40, model="m" * 10_000,
        error_code="upstream_\ud800" + "x" * 500, price_version="p\x00",
        attempt_log=[{"route": "chat", "error": "bad\x00code\udfff" * 100, "k\x00": 1, "ms": float("nan")}],
    )  # NaN: valid to Python's json (a spool line), refused by PostgreSQL's jsonb
    assert ledger_write(batch_with(poisoned)) == BATCH
    row = UsageRecord.objects.get(event_id=poisoned["event_id"])
    assert (row.request_id, row.client_request_id) == ("r" * 64, "c" * 64)
    assert row.route == ("chat" * 40)[:100] and row.model == "m" * 200 and row.price_version == "p"
    assert row.error_code.startswith("upstream_\\ud800x") and len(row.error_code) == 64  # the surrogate escaped
    assert "\x00" not in json.dumps(row.attempt_log) and len(row.attempt_log[0]["error"]) == 200
    assert row.attempt_log[0]["ms"] is None
    assert not UsageDeadLetter.objects.exists()


def test_it_acknowledges_a_drained_batch_with_a_bad_event(stream):
    bad = event(created_at="yesterday")
    publish(stream, batch_with(bad))
    stream.xadd(STREAM, {BATCH_FIELD: b'[{"event_id": "torn'})  # an entry that is not JSON at all
    assert drain(stream) == BATCH - 1
    assert stream.xlen(STREAM) == 0 and not stream.xpending(STREAM, "ledger")["pending"]
    assert UsageRecord.objects.count() == BATCH - 1
    errors = sorted(UsageDeadLetter.objects.values_list("error", flat=True))
    assert len(errors) == 2 and "created_at" in errors[0] and "not valid JSON" in errors[1]
    assert drain(stream) == 0 and UsageDeadLetter.objects.count() == 2


def test_it_replays_a_spool_holding_a_bad_event_and_removes_the_file(tmp_path):
    # Embedded mode: the spool goes straight into the ledger; a bad line kept the whole file for ever.
    spool.append(tmp_path, batch_with(event(status="teapot")))
    assert spool.replay(tmp_path, ledger_write) == BATCH
    assert not list(tmp_path.iterdir()) and UsageRecord.objects.count() == BATCH - 1
    assert UsageDeadLetter.objects.count() == 1


def test_it_replays_a_fixed_dead_letter_into_the_ledger_once(capsys):
    bad = event(created_at="yesterday")
    ledger_write([bad])
    letter = UsageDeadLetter.objects.get()
    call_command("usage_dead_letters")
    assert bad["event_id"] in capsys.readouterr().out
    call_command("usage_dead_letters", "--replay")
    assert "0 written" in capsys.readouterr().out and UsageDeadLetter.objects.count() == 1
    letter.event = json.dumps(bad | {"created_at": time.time()})  # the operator's fix
    letter.save()
    call_command("usage_dead_letters", "--replay", bad["event_id"])
    assert "1 written" in capsys.readouterr().out
    assert UsageRecord.objects.filter(event_id=bad["event_id"]).count() == 1 and not UsageDeadLetter.objects.exists()
    assert ledger_write([bad | {"created_at": time.time()}]) == 0  # already in: never counted twice


def test_it_replays_a_spool_of_events_orjson_refuses_into_the_stream_and_the_ledger(stream, tmp_path):
    # Production: the spool goes to the stream, whose encoder refused these and kept the file for ever.
    surrogate, huge = event(route="chat\ud800"), event(input_tokens=2**70)
    spool.append(tmp_path, [surrogate, *batch_with(huge)[1:]])
    assert spool.replay(tmp_path, lambda events: publish(stream, events)) == BATCH
    assert not list(tmp_path.iterdir())
    assert drain(stream) == BATCH - 1 and stream.xlen(STREAM) == 0
    assert UsageRecord.objects.get(event_id=surrogate["event_id"]).route == "chat\\ud800"
    letter = UsageDeadLetter.objects.get()
    assert letter.event_id == huge["event_id"] and "input_tokens" in letter.error
