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

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
from tensorboard.compat.proto import types_pb2
from tensorboard_plugin_detloss import overview as _overview
from tensorboard_plugin_detloss._crc32c import masked_crc32c

_uids = itertools.count()
BLOCK_ROWS = 4096  # a series' pending steps are written as a block at least this often


class _Pending:
    """The packed rows of one series waiting for the next block record, and its overview."""

    __slots__ = ("layout", "rows", "first_step", "last_wall", "overview", "overview_layouts")

    def __init__(self, layout):
        self.layout = layout
        self.rows = []
        self.first_step = 0
        self.last_wall = 0.0
        self.overview = _overview.Overview(layout)
        self.overview_layouts = {size: layout.as_overview(size) for size in _overview.LEVELS}
_open_writers = weakref.WeakSet()


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
        self._pending = {}  # per-step tag -> _Pending rows of its block layout
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
        """Adds one step of a breakdown (`row`: its numbers in layout order).

        Steps are kept as packed rows and written as one block record per series (format
        version 2, docs/FORMAT.md) on every flush — every `flush_secs`, on `flush()`/`close()`,
        at exit — or when a series has BLOCK_ROWS pending steps. TensorBoard then stores one
        point per block instead of one per step, which is what makes loading and reading
        large runs fast; a crash loses what a flush would have written, as before.
        """
        wall = time.time() if walltime is None else float(walltime)
        with self._lock:
            if self._closed:
                raise ValueError("write to a closed FileWriter (%s)" % self.path)
            pending = self._pending.get(layout.tag)
            if pending is None:
                pending = self._pending[layout.tag] = _Pending(layout.as_block())
            if not pending.rows:
                pending.first_step = step
            pending.rows.append(pending.layout.pack_row(step, wall, *row))
            pending.last_wall = wall
            if len(pending.rows) >= BLOCK_ROWS:
                self._emit(pending)

    def _emit(self, pending):
        """Writes a series' pending rows as one block record (the lock is held)."""
        if not pending.rows:
            return
        content = b"".join(pending.rows)
        values = [self._block_value(pending.layout, len(pending.rows), content)]
        # The overview rows go in the same event: TensorBoard never holds a block without
        # the overview rows of its steps (nor the other way round).
        pending.overview.add_rows(
            np.frombuffer(content, "<f8").reshape(len(pending.rows), -1))
        for size, rows in pending.overview.rows_to_write():
            values.append(self._block_value(pending.overview_layouts[size], len(rows),
                                            rows.astype("<f8", copy=False).tobytes()))
        # The record's step is its FIRST row's: when a restarted job logs an earlier step,
        # TensorBoard drops the records whose step is at or after it, and a block keyed by its
        # first step never holds a step before that point (no step the restart does not log
        # again is lost — as with one record per step). Its wall time is the last row's.
        # (Overview rows may be older than the block's first step — new candidates of a
        # bucket opened before it — never newer than its last.)
        event = event_pb2.Event(wall_time=pending.last_wall, step=pending.first_step,
                                summary=summary_pb2.Summary(value=values))
        self._file.write(_frame(event.SerializeToString()))
        self._dirty = True
        pending.rows = []

    def _block_value(self, layout, n, content):
        """A Summary.Value of n rows of `layout` (its metadata the first time in this file)."""
        value = summary_pb2.Summary.Value(tag=layout.tag, tensor=tensor_pb2.TensorProto(
            dtype=types_pb2.DT_DOUBLE,
            tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[
                tensor_shape_pb2.TensorShapeProto.Dim(size=n),
                tensor_shape_pb2.TensorShapeProto.Dim(size=layout.row_width)]),
            tensor_content=content))
        if layout.tag not in self._described:
            self._described.add(layout.tag)
            value.metadata.CopyFrom(layout.summary_metadata())
        return value

    def _emit_all(self):
        for pending in self._pending.values():
            self._emit(pending)

    # -- lifecycle -------------------------------------------------------------------------

    def flush(self):
        with self._lock:
            if self._closed:
                return
            self._emit_all()
            if self._dirty:
                self._file.flush()
                self._dirty = False

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._emit_all()
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
