"""The TensorFlow path of `detloss.summary.write`: one `tf.summary.write` per call.

Imported only when `write` gets `writer=None` or a `tf.summary.SummaryWriter`. Works eagerly and
inside `tf.function` (names and layout are fixed at trace time; values, weights, total and step
may be tensors), honours `tf.summary.record_if` and tf.summary's default step.
"""

import numbers
import warnings

from tensorboard_plugin_detloss import summary as _summary

try:
    import tensorflow as tf
    from tensorflow.python.eager import context as _context
except ImportError as e:  # pragma: no cover - exercised in the no-TF environment test
    tf = None
    _import_error = e


def _require_tf():
    if tf is None:
        raise ValueError(
            "writer is None, which means TensorFlow's default summary writer, but TensorFlow "
            "is not installed (%s). Pass writer=torch.utils.tensorboard.SummaryWriter(...) or "
            "writer=detloss.summary.FileWriter(logdir), or pip install "
            "'tensorboard-plugin-detloss[tf]'." % _import_error
        )


def _as_float64(arg, key, value):
    """A scalar float64 tensor from a Python number, numpy scalar or tf tensor."""
    if _summary._is_torch_tensor(value):
        return tf.constant(_summary._torch_numbers(arg, [(key, value)])[key], tf.float64)
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(
            "%s[%r] must be a number, got %s %r" % (arg, key, type(value).__name__, value)
        )
    if isinstance(value, numbers.Real):
        return tf.constant(float(value), tf.float64)
    try:
        tensor = tf.convert_to_tensor(value)
    except (TypeError, ValueError) as e:
        raise TypeError("%s[%r] must be a number, got %s" % (arg, key, type(value).__name__)) from e
    return tf.reshape(tf.cast(_checked_scalar(arg, key, tensor), tf.float64), [])


def _checked_scalar(arg, key, tensor):
    """`tensor`, if it holds one real number (TypeError/ValueError naming it otherwise)."""
    dtype = tensor.dtype
    if not (dtype.is_floating or dtype.is_integer) or dtype == tf.bool:
        raise TypeError("%s[%r] must be a real number, got dtype %s" % (arg, key, dtype.name))
    if tensor.shape.rank is not None and tensor.shape.num_elements() not in (None, 1):
        raise ValueError(
            "%s[%r] must be a scalar, got shape %s" % (arg, key, tensor.shape.as_list())
        )
    return tensor


def _graph_number(arg, key, value):
    """Inside tf.function: a float for a Python/numpy number, else a checked scalar tensor
    (cast later, together with its neighbours: every op is paid on every call)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if not tf.is_tensor(value):
        return _as_float64(arg, key, value)  # raises, or converts what it can
    return _checked_scalar(arg, key, value)


def _row(parts):
    """One float64 vector of `parts` (floats and scalar tensors) with as few ops as possible:
    runs of floats become one constant, runs of same-dtype tensors one stack and one cast."""
    segments = []
    for part in parts:
        # (DType == float is True for float32: compare names, not dtypes with Python types.)
        kind = "python" if isinstance(part, float) else part.dtype.name
        if segments and segments[-1][0] == kind:
            segments[-1][1].append(part)
        else:
            segments.append((kind, [part]))
    pieces = []
    for kind, items in segments:
        if kind == "python":
            pieces.append(tf.constant(items, tf.float64))
        else:
            stacked = tf.stack(items)
            if any(t.shape.rank != 0 for t in items):  # e.g. shape [1]: one number each
                stacked = tf.reshape(stacked, [len(items)])
            pieces.append(stacked if kind == "float64" else tf.cast(stacked, tf.float64))
    return pieces[0] if len(pieces) == 1 else tf.concat(pieces, 0)


if tf is not None:  # trace-time Python: AutoGraph must not rewrite it
    _graph_number = tf.autograph.experimental.do_not_convert(_graph_number)
    _row = tf.autograph.experimental.do_not_convert(_row)


def _check_tf_step(step):
    if type(step) is int and step >= 0:  # the hot loop (tf.is_tensor takes ~7 µs on an int)
        return step
    if step is None or tf.is_tensor(step):
        if step is not None and not (step.dtype.is_integer):
            raise TypeError("step must be an integer tensor, got dtype %s" % step.dtype.name)
        return step
    return _summary._check_step(step)


_warned_no_writer = False


def write(components, step, split, weights, total, name, writer):
    _require_tf()
    _summary._check_label("split", split)
    _summary._check_label("name", name)
    names = _summary._check_names(components, weights)
    step = _check_tf_step(step)
    # Convert here (not in the deferred callable) so bad input raises now and nothing is
    # written for a call that raises.
    if tf.executing_eagerly():
        # Eagerly, numbers (and eager tensors) become one float64 constant: one op, not
        # three per value.
        layout, row = _summary._prepare(components, split, weights, total, name)
        make_tensor = lambda: tf.constant(row, dtype=tf.float64)  # noqa: E731
        # The op's string inputs as tensors made once per layout, and the step as one int64
        # tensor (tf.summary.write converts a Python step twice): ~60 µs of a ~230 µs call.
        tag, metadata = _eager_strings(layout)
        if isinstance(step, int):
            step = tf.constant(step, tf.int64)
    else:
        layout = _summary._layout(name, split, names, total is not None)
        order = layout.components
        weights = weights or {}
        parts = [_graph_number("components", k, components[k]) for k in order]
        parts += [_graph_number("weights", k, weights.get(k, 1.0)) for k in order]
        if total is not None:
            parts.append(_graph_number("total", "total", total))
        make_tensor = lambda: _row(parts)  # noqa: E731
        tag, metadata = layout.tag, layout.summary_metadata().SerializeToString()

    def emit():
        return tf.summary.write(tag=tag, tensor=make_tensor, step=step, metadata=metadata)

    if writer is not None:
        with writer.as_default():
            return emit()
    written = emit()
    global _warned_no_writer
    if (
        tf.executing_eagerly()
        and not _warned_no_writer
        and not _has_default_writer()
    ):
        _warned_no_writer = True
        warnings.warn(
            "detloss.summary.write(writer=None) wrote nothing: no default TensorFlow summary "
            "writer is set. Call it inside `with tf.summary.create_file_writer(logdir)"
            ".as_default():`, or pass writer=.",
            stacklevel=3,
        )
    return written


_strings = {}  # layout tag -> (tag, serialized metadata) as eager string tensors
_strings_context = None  # the eager context they were made in


def _eager_strings(layout):
    """(tag, serialized metadata) of `layout` as eager string tensors, made once per layout
    (per eager context: a reset context drops them). Eager mode only."""
    global _strings_context
    ctx = _context.context()
    if ctx is not _strings_context:
        _strings.clear()
        _strings_context = ctx
    cached = _strings.get(layout.tag)
    if cached is None:
        serialized = layout.summary_metadata().SerializeToString()
        cached = (tf.constant(layout.tag), tf.constant(serialized))
        if len(_strings) >= 1024:  # layouts are few; bound it anyway
            _strings.clear()
        _strings[layout.tag] = cached
    return cached


def _has_default_writer():
    try:
        from tensorflow.python.ops import summary_ops_v2

        return summary_ops_v2._summary_state.writer is not None
    except Exception:  # private API moved: do not warn
        return True
