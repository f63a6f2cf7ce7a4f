"""Embedded mode's Celery broker: kombu's filesystem transport, made safe to read while written.

kombu's filesystem channel creates each message file in the queue folder and then
writes it, so a consumer listing the folder can take a file that is still empty or
half-written: `JSONDecodeError`, the message lost and the worker down (celery/kombu#1551;
it took `make run` down after ~12 minutes). Here a message is written in full to a
staging folder beside the queue and then renamed into it. rename(2) within one
filesystem is atomic, so the queue folder only ever holds complete files, by construction.
The consumer claims a file by renaming it into its own folder under var/ too (kombu moves
it to the system temp dir, which may be another filesystem: a copy, not a claim).

Why not kombu's SQLAlchemy transport on SQLite: it never deletes a delivered message
(visible=False rows stay), so the beat's once-a-second drain alone adds 86,400 rows a day,
and it would bring SQLAlchemy in as a dependency. Why not a worker thread inside the
server: a task that blocks or leaks would then stall the data plane it shares a process
with, and the supervisor could no longer restart the worker alone.
"""
import logging
import os
import uuid
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads
from kombu.utils.objects import cached_property

log = logging.getLogger("switchyard.broker")

# Width of the millisecond timestamp that orders the file names: zero-padded, so names
# sort by time as strings even when the count gains a digit (13 digits last ~300 years).
STAMP_DIGITS = 13


class Channel(filesystem.Channel):
    @cached_property
    def staging_folder(self):
        return self.transport_options.get("staging_folder", os.path.join(self.data_folder_out, os.pardir, "staging"))

    @cached_property
    def claim_folder(self):
        return self.processed_folder  # under var/, on the queue's filesystem, unlike the temp dir

    def _put(self, queue, payload, **kwargs):
        """Write the message whole under a staging name, then rename it into the queue folder."""
        name = f"{int(monotonic() * 1000):0{STAMP_DIGITS}d}_{uuid.uuid4()}.{queue}.msg"
        staged = os.path.join(self.staging_folder, name)
        try:
            with open(staged, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.rename(staged, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            raise ChannelError(f"Cannot add file {name!r} to the queue") from exc

    def _get(self, queue):
        """The oldest complete message of `queue`; a file another consumer claimed first is skipped."""
        suffix = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != suffix:
                continue
            claimed = os.path.join(self.claim_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another consumer took it between our listing and the rename
            payload = self._read_claimed(claimed)
            if payload is not None:
                return payload
        raise Empty()

    def _read_claimed(self, path):
        """The decoded message, or None (logged, file dropped) if it cannot be decoded."""
        try:
            with open(path, "rb") as f:
                data = f.read()
            os.remove(path)
        except OSError as exc:
            raise ChannelError(f"Cannot read file {path!r} from the queue") from exc
        try:
            return loads(bytes_to_str(data))
        except ValueError:
            # Only a file written by another writer (an old kombu, a crash mid-disk-flush)
            # can be partial; one bad file must not stop the worker.
            log.error("dropped an undecodable message file %s (%d bytes)", os.path.basename(path), len(data))
            return None


class Transport(filesystem.Transport):
    Channel = Channel
