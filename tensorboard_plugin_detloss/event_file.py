"""`FileWriter`: writes TensorBoard event files with neither TensorFlow nor torch.

TensorBoard's own `EventFileWriter` imports `tensorboard.compat.tf`, which loads TensorFlow
whenever it is installed; this one does not, and it writes synchronously into a buffer that
is flushed every `flush_secs` (by a daemon thread), on `flush()`, `close()` and at exit.
"""

import atexit
import itertools
import os
import socket
import struct
import threading
import time
import weakref

from tensorboard.compat.proto import event_pb2
from tensorboard_plugin_detloss._crc32c import masked_crc32c

_uids = itertools.count()
_open_writers = weakref.WeakSet()


def _varint(n):
    out = bytearray()
    while True:
        bits = n & 0x7F
        n >>= 7
        if n:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _field(number, payload):
    """A length-delimited protobuf field."""
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def _breakdown_value_parts(layout, with_metadata):
    """(bytes before, bytes after) the tensor content in the serialized `Summary` of a step.

    Everything but the content is fixed for a layout, so the per-step work is packing the
    numbers: the bytes are those `Summary(value=[Value(tag, tensor, metadata)])` serializes to
    (fields in number order), which tests check against the proto classes.
    """
    length = layout.tensor_length
    shape = _field(2, _field(2, b"\x08" + _varint(length)))  # TensorShapeProto.dim[0].size
    tensor_head = b"\x08\x02" + shape + _varint((4 << 3) | 2) + _varint(8 * length)
    tensor_len = len(tensor_head) + 8 * length
    value_head = _field(1, layout.tag.encode("utf-8")) + _varint((8 << 3) | 2) + _varint(tensor_len)
    value_tail = _field(9, layout.summary_metadata().SerializeToString()) if with_metadata else b""
    value_len = len(value_head) + len(tensor_head) + 8 * length + len(value_tail)
    summary = _varint((1 << 3) | 2) + _varint(value_len)
    summary_len = len(summary) + value_len
    head = _varint((5 << 3) | 2) + _varint(summary_len) + summary + value_head + tensor_head
    return head, value_tail


_DOUBLE = struct.Struct("<d").pack
_U64 = struct.Struct("<Q").pack
_U32 = struct.Struct("<I").pack


def _frame(data):
    """One TFRecord: length, masked CRC of the length, data, masked CRC of the data."""
    header = _U64(len(data))
    return b"".join((header, _U32(masked_crc32c(header)), data, _U32(masked_crc32c(data))))


class FileWriter:
    """Writes events for one run directory into a new event file.

    Use as a context manager, or call `close()`. Safe to share between threads.

    Args:
      logdir: the run's directory (created if missing): a local path, or a URL TensorBoard's
        file layer understands (`s3://` with boto3, any fsspec protocol with fsspec; written
        through `tensorboard.compat.tensorflow_stub.io.gfile`, appending where the filesystem
        can and rewriting the file on each flush where it cannot).
      flush_secs: at most this many seconds of writes sit in memory; a process killed
        with SIGKILL loses at most that much.
      filename_suffix: appended to the event file's name.
    """

    def __init__(self, logdir, flush_secs=10.0, filename_suffix=""):
        logdir = os.fspath(logdir)
        if not flush_secs > 0:
            raise ValueError("flush_secs must be > 0, got %r" % (flush_secs,))
        name = "events.out.tfevents.%010d.%s.%d.%d.detloss%s" % (
            time.time(), socket.gethostname(), os.getpid(), next(_uids), filename_suffix)
        if "://" in logdir:
            self._file = _RemoteFile(logdir, name)
            self.path = self._file.path
        else:
            os.makedirs(logdir, exist_ok=True)
            self.path = os.path.join(logdir, name)
            self._file = open(self.path, "wb")
        self.logdir = logdir
        self._flush_secs = float(flush_secs)
        self._lock = threading.Lock()
        self._described = set()  # tags whose metadata this file already holds
        self._parts = {}  # (tag, with metadata) -> encoded bytes around a step's numbers
        self._closed = False
        self._dirty = False
        self._write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))
        self.flush()
        _open_writers.add(self)
        self._wake = threading.Event()
        self._flusher = threading.Thread(
            target=_flush_periodically,
            args=(weakref.ref(self), self._wake, self._flush_secs),
            name="detloss-flush",
            daemon=True,
        )
        self._flusher.start()

    # -- writing ---------------------------------------------------------------------------

    def _write(self, event):
        record = _frame(event.SerializeToString())
        with self._lock:
            if self._closed:
                raise ValueError("write to a closed FileWriter (%s)" % self.path)
            self._file.write(record)
            self._dirty = True

    def add_event(self, event):
        """Writes an `Event` proto as it is."""
        self._write(event)

    def add_summary(self, summary, step, walltime=None):
        """Writes a `Summary` proto (e.g. from `detloss.summary.pb`) at `step`."""
        event = event_pb2.Event(
            wall_time=time.time() if walltime is None else float(walltime),
            step=int(step),
            summary=summary,
        )
        self._write(event)

    def add_breakdown(self, layout, row, step, walltime=None):
        """Writes one step of a breakdown (`row`: float64 array); used by `summary.write`.

        Encodes the Event directly (see `_breakdown_value_parts`): about 10x cheaper than
        building and serializing the proto objects, the bulk of a step's cost otherwise.
        """
        with self._lock:
            first = layout.tag not in self._described
            self._described.add(layout.tag)
            parts = self._parts.get((layout.tag, first))
            if parts is None:
                parts = self._parts[(layout.tag, first)] = _breakdown_value_parts(layout, first)
        wall = time.time() if walltime is None else float(walltime)
        step = int(step)
        data = b"".join((
            b"\x09" + _DOUBLE(wall) if wall else b"",  # proto3 omits zero fields
            b"\x10" + _varint(step) if step else b"",
            parts[0], layout.pack(*row), parts[1]))
        record = _frame(data)
        with self._lock:
            if self._closed:
                raise ValueError("write to a closed FileWriter (%s)" % self.path)
            self._file.write(record)
            self._dirty = True

    # -- lifecycle -------------------------------------------------------------------------

    def flush(self):
        with self._lock:
            if not self._closed and self._dirty:
                self._file.flush()
                self._dirty = False

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._file.flush()
            self._file.close()
        self._wake.set()
        _open_writers.discard(self)

    @property
    def closed(self):
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class _RemoteFile:
    """Buffers records in memory and hands them to TensorBoard's gfile on flush."""

    def __init__(self, logdir, name):
        from tensorboard.compat.tensorflow_stub.io import gfile  # imports boto3/fsspec if present

        gfile.makedirs(logdir)
        self.path = logdir.rstrip("/") + "/" + name
        self._gfile = gfile.GFile(self.path, "wb")
        self._pending = []

    def write(self, data):
        self._pending.append(data)

    def flush(self):
        if self._pending:
            self._gfile.write(b"".join(self._pending))
            self._pending = []
        self._gfile.flush()

    def close(self):
        self.flush()
        self._gfile.close()


def _flush_periodically(writer_ref, wake, interval):
    while not wake.wait(interval):
        writer = writer_ref()
        if writer is None or writer.closed:
            return
        try:
            writer.flush()
        except Exception:  # never let the flusher thread raise into the interpreter
            return
        del writer


def flush_all():
    for writer in list(_open_writers):
        try:
            writer.flush()
        except Exception:
            pass


@atexit.register
def _close_all():
    for writer in list(_open_writers):
        try:
            writer.close()
        except Exception:
            pass
