"""Keras integration: `detloss.keras.LossBreakdown`, a callback for `model.fit`.

    model.compile(loss={"cls": ..., "box": ...}, loss_weights={"cls": 1.0, "box": 2.0}, ...)
    model.fit(x, y, validation_data=..., callbacks=[
        keras.callbacks.TensorBoard(log_dir),
        detloss.keras.LossBreakdown(log_dir),
    ])

Keras reports each output's *unweighted* loss as `<output>_loss` (and `val_<output>_loss`) and
the optimised total as `loss`; this callback logs them as components with the compile-time
`loss_weights`, the total as `total`, train into `<log_dir>/train` and validation into
`<log_dir>/validation` — the layout of Keras' own TensorBoard callback, so both tabs line up.
Requires TensorFlow (Keras 3 on the TF backend, or tf.keras).
"""

import os

import tensorflow as tf

from tensorboard_plugin_detloss import summary

try:
    import keras

    _Callback = keras.callbacks.Callback
except ImportError:  # pragma: no cover - tf.keras only
    _Callback = tf.keras.callbacks.Callback


class LossBreakdown(_Callback):
    """Logs the per-output losses of a multi-output model as a detloss breakdown.

    Args:
      log_dir: the same directory you give Keras' `TensorBoard` callback.
      loss_weights: dict output name -> weight. Default: the model's compile-time
        `loss_weights` (read from the compile config), else 1.0 each. When you pass them and
        the model's differ, a ValueError says so.
      update_freq: "epoch" (default: train logged once per epoch, as the epoch mean), "batch"
        (every batch, at the optimizer's iteration, as Keras' running mean of the epoch), or an
        int N (every N batches).
      outputs: the output names to log (default: every `<name>_loss` in the logs).
      name: the loss name in the tab (default "loss").
    """

    def __init__(self, log_dir, loss_weights=None, update_freq="epoch", outputs=None,
                 name="loss"):
        super().__init__()
        if update_freq not in ("epoch", "batch") and not (
                isinstance(update_freq, int) and update_freq > 0):
            raise ValueError("update_freq must be 'epoch', 'batch' or an int > 0, got %r"
                             % (update_freq,))
        self.log_dir = os.fspath(log_dir)
        self.loss_weights = dict(loss_weights) if loss_weights is not None else None
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.outputs = list(outputs) if outputs is not None else None
        self.name = name
        self._writers = {}

    # -- helpers -------------------------------------------------------------------------------

    def _writer(self, subdir):
        if subdir not in self._writers:
            self._writers[subdir] = tf.summary.create_file_writer(
                os.path.join(self.log_dir, subdir))
        return self._writers[subdir]

    def _compiled_weights(self):
        config = getattr(self.model, "_compile_config", None)
        config = getattr(config, "config", None) or {}
        weights = config.get("loss_weights")
        return dict(weights) if isinstance(weights, dict) else None

    def _weights(self, names):
        compiled = self._compiled_weights()
        if self.loss_weights is not None:
            if compiled is not None:
                differ = {k: (v, compiled.get(k)) for k, v in self.loss_weights.items()
                          if k in compiled and float(compiled[k]) != float(v)}
                if differ:
                    raise ValueError(
                        "loss_weights differ from the model's compile-time loss_weights: %s"
                        % ", ".join("%s: %r vs %r" % (k, a, b) for k, (a, b) in differ.items()))
            weights = self.loss_weights
        else:
            weights = compiled or {}
        return {n: float(weights.get(n, 1.0)) for n in names}

    def _components(self, logs, prefix=""):
        """{output: value} from Keras logs ('cls_loss' -> 'cls'); the total separately."""
        components = {}
        for key, value in logs.items():
            if not (key.startswith(prefix) and key.endswith("_loss")):
                continue
            output = key[len(prefix):-len("_loss")]
            if not output or output.startswith("val_"):
                continue
            if self.outputs is None or output in self.outputs:
                components[output] = float(value)
        return components, logs.get(prefix + "loss")

    def _write(self, subdir, split, logs, step, prefix=""):
        components, total = self._components(logs or {}, prefix)
        if not components:
            return
        with self._writer(subdir).as_default():
            summary.write(components, step=int(step), split=split,
                          weights=self._weights(list(components)),
                          total=None if total is None else float(total), name=self.name)

    # -- Keras hooks ---------------------------------------------------------------------------

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch":
            return
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.update_freq == 0:
            self._write("train", "train", logs, step)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.update_freq == "epoch":
            self._write("train", "train", logs, epoch)
            val_step = epoch
        else:
            val_step = int(self.model.optimizer.iterations.numpy())
        self._write("validation", "val", logs, val_step, prefix="val_")
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
