"""Request and usage-event ids: the same text a uuid4 gives, from fresh random bits every time."""
import os
import uuid

from gateway.dataplane.ids import uuid4_hex, uuid4_str


def test_it_makes_version_4_rfc_4122_uuids_in_both_spellings():
    for _ in range(2000):  # the fixed bits must hold whatever the random ones are
        text = uuid4_str()
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text  # lower-case, dashed: what str(uuid.uuid4()) prints
        plain = uuid.UUID(hex=uuid4_hex())
        assert (plain.version, plain.variant) == (4, uuid.RFC_4122)
    one = uuid4_hex()
    assert len(one) == 32 and one == one.lower() == uuid.UUID(one).hex  # as uuid.uuid4().hex


def test_it_never_repeats_within_a_process_or_across_a_fork():
    seen = {uuid4_hex() for _ in range(20_000)}
    assert len(seen) == 20_000
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a worker forked from the same parent must draw its own ids
        os.write(write, "".join(uuid4_hex() for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    data = os.read(read, 64 * 100).decode()
    os.close(read)
    child = {data[i:i + 32] for i in range(0, len(data), 32)}
    assert len(child) == 100 and not child & seen and not child & {uuid4_hex() for _ in range(100)}
