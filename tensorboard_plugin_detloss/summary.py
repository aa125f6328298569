"""Logging a loss breakdown: `write` (any writer), `pb` (the Summary proto), `FileWriter`.

Importing this module imports neither TensorFlow nor torch. The TF path (``writer=None`` or a
``tf.summary.SummaryWriter``) lives in ``_tf_summary`` and is imported on first use.
"""

import numbers
import threading
import weakref

import numpy as np
from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2

from tensorboard_plugin_detloss import metadata
from tensorboard_plugin_detloss.event_file import FileWriter  # noqa: F401  (public API)

__all__ = ["write", "pb", "FileWriter", "flush"]


# --- validation -------------------------------------------------------------------------------


def _check_label(arg, value):
    if not isinstance(value, str):
        raise TypeError("%s must be a str, got %s" % (arg, type(value).__name__))
    if not value:
        raise ValueError("%s must be a non-empty string" % arg)


def _check_names(components, weights):
    """Checks the component names (and weights' keys) and returns them as a tuple."""
    if not hasattr(components, "keys"):
        raise TypeError(
            "components must be a dict of name -> value, got %s" % type(components).__name__
        )
    if not components:
        raise ValueError("components is empty: log at least one component")
    names = tuple(components.keys())
    for key in names:
        if not isinstance(key, str):
            raise TypeError(
                "components: name %r is a %s, not a str" % (key, type(key).__name__)
            )
        if not key:
            raise ValueError("components: a component name is empty")
    if weights is not None:
        if not hasattr(weights, "keys"):
            raise TypeError(
                "weights must be a dict of name -> weight, got %s" % type(weights).__name__
            )
        for key in weights.keys():
            if key not in components:
                raise ValueError(
                    "weights: %r is not one of the components (%s)"
                    % (key, ", ".join(repr(n) for n in names))
                )
    return names


def _check_step(step):
    if type(step) is int and step >= 0:  # the hot loop
        return step
    if step is None:
        raise ValueError("step is required (an int >= 0)")
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        if isinstance(step, (float, np.floating)) and float(step).is_integer():
            raise TypeError("step must be an int, got the float %r" % (step,))
        raise TypeError("step must be an int >= 0, got %s %r" % (type(step).__name__, step))
    step = int(step)
    if step < 0:
        raise ValueError("step must be >= 0, got %d" % step)
    return step


def _is_torch_tensor(value):
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _number(arg, key, value):
    """One Python/numpy number as a float; TypeError naming `arg` and `key` otherwise."""
    if isinstance(value, float):
        return value
    if isinstance(value, bool) or isinstance(value, (str, bytes)):
        raise TypeError("%s[%r] must be a number, got %s %r" % (arg, key, type(value).__name__, value))
    if isinstance(value, numbers.Real):  # int, numpy scalars, Fraction, Decimal-like
        return float(value)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return float(value)
    if hasattr(value, "numpy") and hasattr(value, "dtype"):  # an eager tf.Tensor
        array = np.asarray(value.numpy())
        if array.ndim == 0 and array.dtype.kind in "iuf":
            return float(array)
        raise TypeError(
            "%s[%r] must be a scalar number, got a tensor of shape %s and dtype %s"
            % (arg, key, array.shape, array.dtype)
        )
    raise TypeError("%s[%r] must be a number, got %s" % (arg, key, type(value).__name__))


def _torch_numbers(arg, keyed_tensors):
    """Converts 0-d torch tensors to floats with one device sync for all of them."""
    import torch  # only reached when the caller passed torch tensors

    keys = [k for k, _ in keyed_tensors]
    flat = []
    for key, tensor in keyed_tensors:
        if tensor.numel() != 1:
            raise ValueError(
                "%s[%r] must be a scalar tensor, got shape %s" % (arg, key, tuple(tensor.shape))
            )
        if tensor.dtype == torch.bool or tensor.is_complex():
            raise TypeError("%s[%r] must be a real number, got dtype %s" % (arg, key, tensor.dtype))
        flat.append(tensor.detach().reshape(()))
    dtype = flat[0].dtype
    for t in flat[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float64
    device = flat[0].device
    stacked = torch.stack([t.to(device=device, dtype=dtype) for t in flat])
    return dict(zip(keys, stacked.cpu().double().tolist()))


def _numbers(arg, mapping, keys):
    """floats for mapping[k] for k in keys, converting torch tensors in one batch."""
    out = {}
    torch_values = []
    for key in keys:
        value = mapping[key]
        if type(value) is float:  # the common case first
            out[key] = value
        elif _is_torch_tensor(value):
            torch_values.append((key, value))
        else:
            out[key] = _number(arg, key, value)
    if torch_values:
        out.update(_torch_numbers(arg, torch_values))
    return [out[k] for k in keys]


# --- layout -----------------------------------------------------------------------------------

_layout_lock = threading.Lock()
_layouts = {}  # (name, split, names tuple, has_total) -> Layout, in the first-seen order
_layouts_by_set = {}  # (name, split, frozenset(names), has_total) -> Layout
_MAX_CACHED_LAYOUTS = 4096


def _layout(name, split, names, has_total):
    """The Layout for these components, reusing the first-seen order of the same set.

    So `{"cls": .., "box": ..}` after `{"box": .., "cls": ..}` stays in one series.
    """
    key = (name, split, names, has_total)
    layout = _layouts.get(key)
    if layout is not None:
        return layout
    with _layout_lock:
        set_key = (name, split, frozenset(names), has_total)
        layout = _layouts_by_set.get(set_key)
        if layout is None:
            if len(_layouts_by_set) >= _MAX_CACHED_LAYOUTS:
                _layouts_by_set.clear()
                _layouts.clear()
            layout = metadata.Layout(name, split, names, has_total)
            _layouts_by_set[set_key] = layout
        _layouts[key] = layout
    return layout


def _prepare(components, split, weights, total, name):
    """Validates one call; returns (layout, [floats] in layout order). Writes nothing."""
    if type(components) is dict and (weights is None or type(weights) is dict):
        try:  # the hot loop: the same names as an earlier, validated call
            layout = _layouts.get((name, split, tuple(components), total is not None))
        except TypeError:  # an unhashable split or name: validated below
            layout = None
        if layout is not None and (weights is None or weights.keys() <= components.keys()):
            order = layout.components
            row = [components[k] for k in order]
            if weights:
                row += [weights.get(k, 1.0) for k in order]
            else:
                row += [1.0] * len(order)
            if total is not None:
                row.append(total)
            for v in row:
                if type(v) is not float:
                    break
            else:
                return layout, row
    return _prepare_checked(components, split, weights, total, name)


def _prepare_checked(components, split, weights, total, name):
    _check_label("split", split)
    _check_label("name", name)
    names = _check_names(components, weights)
    layout = _layout(name, split, names, total is not None)
    order = layout.components
    row = _numbers("components", components, order)
    if weights:
        row += _numbers("weights", {k: weights.get(k, 1.0) for k in order}, order)
    else:
        row += [1.0] * len(order)
    if total is not None:
        row.append(_numbers("total", {"total": total}, ["total"])[0])
    return layout, row


def _summary(layout, row, with_metadata=True):
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_DOUBLE,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=len(row))]
        ),
        tensor_content=layout.pack(*row),
    )
    value = summary_pb2.Summary.Value(tag=layout.tag, tensor=tensor)
    if with_metadata:
        value.metadata.CopyFrom(layout.summary_metadata())
    return summary_pb2.Summary(value=[value])


# --- public API -------------------------------------------------------------------------------


def pb(components, split="train", weights=None, total=None, name=metadata.DEFAULT_NAME):
    """Returns a `Summary` proto holding one step of a loss breakdown. Needs no TF or torch.

    Like TensorBoard's `scalar_pb`: put it in an `Event` with a step, or pass it to any
    writer's `add_summary(summary, step)`. Arguments are those of `write`.
    """
    layout, row = _prepare(components, split, weights, total, name)
    return _summary(layout, row)


def write(
    components,
    step=None,
    split="train",
    weights=None,
    total=None,
    name=metadata.DEFAULT_NAME,
    writer=None,
    walltime=None,
):
    """Writes one step of a multi-part loss: its components, their weights and the total.

    Args:
      components: dict of component name -> value (float, int, numpy scalar, 0-d torch or
        tf tensor). Components may appear or disappear from step to step.
      step: int >= 0. On the TF path also an int tensor, or None for tf.summary's default step.
      split: "train", "val", or any other non-empty name ("val_coco", "test").
      weights: optional dict of component name -> weight (default 1.0 each); may change
        from step to step. A component's contribution is weight * value.
      total: optional, the loss actually optimised; the consistency check compares it with
        the sum of contributions. Omitted, the total is that sum.
      name: which loss of the run ("loss", "aux_loss", ...).
      writer: a `torch.utils.tensorboard.SummaryWriter`, a `tensorboardX.SummaryWriter`, a
        `detloss.summary.FileWriter`, a `tf.summary.SummaryWriter`, or None for TensorFlow's
        default writer (inside `with writer.as_default():`).
      walltime: optional seconds since the epoch (default: now). Not used on the TF path.

    Returns:
      True when something was written (on the TF path, like `tf.summary.write`, a bool
      that is False when no default writer is set or recording is off).

    Raises:
      TypeError, ValueError: naming the argument and the offending key. Nothing is written
        by a call that raises. NaN and infinite values are data and are written.
    """
    if type(writer) is not FileWriter and (writer is None or _is_tf_writer(writer)):
        from tensorboard_plugin_detloss import _tf_summary

        return _tf_summary.write(components, step, split, weights, total, name, writer)
    step = _check_step(step)
    layout, row = _prepare(components, split, weights, total, name)
    if not isinstance(writer, FileWriter):
        companion = _companion_of(writer)
        if companion is None:
            return _write_through(writer, layout, row, step, walltime)
        writer = companion
    writer.add_breakdown(layout, row, step, walltime)
    return True


_companions_lock = threading.Lock()
_companions = weakref.WeakKeyDictionary()  # torch / tensorboardX writer -> our FileWriter


def _companion_of(writer):
    """A detloss FileWriter in the same run directory as a torch/tensorboardX SummaryWriter.

    detloss writes its own event file beside the writer's (TensorBoard reads every event file
    of a run directory), so a step costs what a FileWriter step costs instead of a round trip
    through the writer's proto classes, queue and pure-Python CRC. It is flushed and closed
    with the writer (`writer.flush()`, `writer.close()`), every 10 s, and at exit.
    """
    with _companions_lock:
        try:
            companion = _companions.get(writer)
        except TypeError:
            return None
        if companion is not None and not companion.closed:
            return companion
        get_logdir = getattr(writer, "get_logdir", None)
        logdir = get_logdir() if callable(get_logdir) else None
        if not isinstance(logdir, str) or not hasattr(writer, "add_scalar"):
            return None
        companion = FileWriter(logdir)
        _companions[writer] = companion
        _chain(writer, "flush")
        _chain(writer, "close")
        return companion


def _chain(writer, method):
    """Makes `writer.<method>()` also flush/close the detloss file beside it (whichever is
    current: a writer reopened after close gets a new one). Patched on this instance only."""
    original = getattr(writer, method, None)
    if original is None or getattr(original, "_detloss_chained", False):
        return
    writer_ref = weakref.ref(writer)

    def chained(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        finally:
            owner = writer_ref()
            companion = _companions.get(owner) if owner is not None else None
            if companion is not None:
                getattr(companion, method)()

    chained._detloss_chained = True
    try:
        setattr(writer, method, chained)
    except (AttributeError, TypeError):  # a writer with __slots__: rely on the periodic flush
        pass


def flush():
    """Flushes every open detloss event file (including those beside torch/tensorboardX writers)."""
    from tensorboard_plugin_detloss import event_file

    event_file.flush_all()


def _write_through(writer, layout, row, step, walltime):
    """Writes via the writer's own `add_summary` (a writer whose directory we cannot tell)."""
    file_writer = _event_writer_of(writer)
    summary = _summary(layout, row, with_metadata=_first_time(file_writer, layout.tag))
    if _is_tensorboardx(file_writer):
        summary = _as_tensorboardx(summary)
    file_writer.add_summary(summary, step, walltime)
    return True


def _is_tf_writer(writer):
    module = type(writer).__module__
    return module.startswith("tensorflow") or module.startswith("keras")


def _event_writer_of(writer):
    """The object with `add_summary(summary, step, walltime)` behind a torch/tensorboardX writer."""
    get = getattr(writer, "_get_file_writer", None)
    if get is not None:
        return get()
    if hasattr(writer, "add_summary"):
        return writer
    raise TypeError(
        "writer must be a torch.utils.tensorboard.SummaryWriter, a tensorboardX.SummaryWriter, "
        "a detloss.summary.FileWriter, a tf.summary.SummaryWriter or None; got %s"
        % type(writer).__name__
    )


_tags_lock = threading.Lock()
_tags_with_metadata = weakref.WeakKeyDictionary()  # file writer -> tags already described


def _first_time(file_writer, tag):
    """True the first time `tag` goes to this file writer: only then carry the metadata.

    TensorBoard keeps only the first event's metadata per tag, so repeating it is waste.
    A writer re-created after close() is a new object and a new file, and gets it again.
    """
    with _tags_lock:
        try:
            tags = _tags_with_metadata.setdefault(file_writer, set())
        except TypeError:  # not weak-referenceable: describe every time
            return True
        if tag in tags:
            return False
        tags.add(tag)
        return True


def _is_tensorboardx(file_writer):
    return type(file_writer).__module__.startswith("tensorboardX")


def _as_tensorboardx(summary):
    """tensorboardX writes its own copy of the Summary proto class; convert by bytes."""
    from tensorboardX.proto import summary_pb2 as tbx_summary_pb2

    return tbx_summary_pb2.Summary.FromString(summary.SerializeToString())
