"""Embedded mode's broker (gateway/celery_transport.py) under concurrent publishing.

kombu's stock filesystem transport creates a message file and then writes it, so a
consumer can read it empty or half-written (celery/kombu#1551: JSONDecodeError, the
message lost, the worker down). Ours writes under a staging name and renames: the queue
folder can only ever hold complete files. These tests watch for the race directly:
producer processes publish while a consumer drains the queue and an observer thread
reads every file that appears in the queue folder. Against the stock transport (swap
TRANSPORT for None) the same run saw incomplete files and decode errors.
"""
import json
import multiprocessing
import os
import threading
import time

import pytest
from kombu import Connection

TRANSPORT = "gateway.celery_transport:Transport"
PRODUCERS = 3  # processes publishing at once (beat, a server, a worker's retries at worst)
MESSAGES = 300  # per producer; the stock transport showed the race within a few hundred
BODY_BYTES = 64 * 1024  # a large body widens a non-atomic write's window
DEADLINE_SECONDS = 60  # bound on the whole exchange on a loaded 2-core machine


def _options(root):
    names = {"data_folder_in": "queue", "data_folder_out": "queue", "staging_folder": "staging",
             "processed_folder": "processed", "control_folder": "control"}
    options = {key: str(root / name) for key, name in names.items()}
    for folder in set(options.values()):
        os.makedirs(folder, exist_ok=True)
    return options | {"store_processed": False, "polling_interval": 0}  # poll flat out: the worst case


def _connection(options):
    return Connection("filesystem://localhost//", transport=TRANSPORT, transport_options=options)


def _produce(options, producer):
    with _connection(options) as conn:
        queue = conn.SimpleQueue("race")
        for i in range(MESSAGES):
            queue.put({"producer": producer, "i": i, "body": "x" * BODY_BYTES})
        queue.close()


def _observe(folder, stop, incomplete):
    """Read every message file seen in the queue folder; count those that are not whole JSON."""
    while not stop.is_set():
        for name in os.listdir(folder):
            try:
                with open(os.path.join(folder, name), "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                continue  # consumed meanwhile
            try:
                json.loads(data)
            except ValueError:
                incomplete.append(len(data))


def _consume(options, producers):
    received, errors = set(), []
    deadline = time.monotonic() + DEADLINE_SECONDS
    with _connection(options) as conn:
        queue = conn.SimpleQueue("race")
        while len(received) < PRODUCERS * MESSAGES and time.monotonic() < deadline:
            try:
                message = queue.get(timeout=0.5)
            except queue.Empty:
                if not any(p.is_alive() for p in producers) and not os.listdir(options["data_folder_in"]):
                    break  # everything published has been taken
                continue
            except ValueError as exc:  # JSONDecodeError: a partial file reached the consumer
                errors.append(repr(exc))
                continue
            received.add((message.payload["producer"], message.payload["i"]))
            message.ack()
        queue.close()
    return received, errors


@pytest.mark.slow
def test_it_never_hands_a_consumer_a_partial_message(tmp_path):
    options = _options(tmp_path)
    spawn = multiprocessing.get_context("spawn")  # no fork of pytest's threads
    producers = [spawn.Process(target=_produce, args=(options, n)) for n in range(PRODUCERS)]
    stop, incomplete = threading.Event(), []
    observer = threading.Thread(target=_observe, args=(options["data_folder_in"], stop, incomplete))
    observer.start()
    try:
        for p in producers:
            p.start()
        received, errors = _consume(options, producers)
    finally:
        stop.set()
        observer.join()
        for p in producers:
            p.join(DEADLINE_SECONDS)
    assert errors == []
    assert incomplete == [], f"{len(incomplete)} incomplete files seen in the queue folder"
    assert len(received) == PRODUCERS * MESSAGES  # none lost
    assert os.listdir(options["staging_folder"]) == [] and os.listdir(options["processed_folder"]) == []


def test_it_drops_an_undecodable_file_and_delivers_the_next(tmp_path):
    """A file from another writer (an old kombu, a power cut) must not stop the worker."""
    options = _options(tmp_path)
    with _connection(options) as conn:
        # Its own queue name: kombu keeps bindings per process, and another test's "race" binding
        # (in another tmp folder) would route this message nowhere.
        queue = conn.SimpleQueue("drop")
        # Named to sort first: what kombu's writer leaves when caught between create and write.
        open(os.path.join(options["data_folder_in"], "0000000000000_partial.drop.msg"), "wb").close()
        queue.put({"i": 1})
        message = queue.get(timeout=5)
        assert message.payload == {"i": 1}
        message.ack()
        queue.close()
    assert os.listdir(options["data_folder_in"]) == []
