"""PyTorch Lightning integration: `detloss.lightning.LossBreakdown`, a Callback.

Return the components from `training_step` / `validation_step` under one key:

    def training_step(self, batch, batch_idx):
        parts = self.criterion(self(batch), batch)            # {"box": ..., "cls": ..., "dfl": ...}
        loss = sum(self.gains[k] * v for k, v in parts.items())
        return {"loss": loss, "loss_components": parts}

    trainer = L.Trainer(callbacks=[detloss.lightning.LossBreakdown(weights=gains)])

Train is logged every `log_every_n_steps` optimizer steps (the trainer's own setting by default)
at `trainer.global_step`; validation is averaged over the epoch (batch-size weighted, and across
ranks with one all_reduce) and logged at the end of each validation epoch. Only global rank 0
writes, into the trainer's TensorBoardLogger (`logger.experiment`), so the tab shows the
breakdown beside Lightning's scalars; without a TensorBoard logger, a detloss FileWriter in
`trainer.log_dir` (or `default_root_dir`).
"""

import torch

from tensorboard_plugin_detloss import event_file, summary

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # the older package name
    from pytorch_lightning.callbacks import Callback


class LossBreakdown(Callback):
    """Logs the loss components a LightningModule returns.

    Args:
      key: the key of the components dict in the step outputs (default "loss_components").
      weights: dict component -> weight, or None to use `pl_module.loss_weights` if the module
        has that attribute, else 1.0 each.
      name: the loss name in the tab.
      log_every_n_steps: train logging interval; default the trainer's `log_every_n_steps`.
    """

    def __init__(self, key="loss_components", weights=None, name="loss", log_every_n_steps=None):
        super().__init__()
        self.key = key
        self.weights = weights
        self.name = name
        self.log_every_n_steps = log_every_n_steps
        self._writer = None
        self._val_sums = None
        self._val_count = 0.0

    # -- helpers -------------------------------------------------------------------------------

    def _writer_for(self, trainer):
        if self._writer is not None:
            return self._writer
        for logger in getattr(trainer, "loggers", None) or []:
            experiment = getattr(logger, "experiment", None)
            if hasattr(experiment, "_get_file_writer") or hasattr(experiment, "add_summary"):
                self._writer = experiment
                return experiment
        self._writer = event_file.FileWriter(trainer.log_dir or trainer.default_root_dir)
        return self._writer

    def _weights_for(self, pl_module):
        if self.weights is not None:
            return self.weights
        return getattr(pl_module, "loss_weights", None)

    def _components(self, outputs):
        if not isinstance(outputs, dict) or self.key not in outputs:
            return None, None
        parts = outputs[self.key]
        if not isinstance(parts, dict):
            raise TypeError("outputs[%r] must be a dict of component -> value, got %s"
                            % (self.key, type(parts).__name__))
        return parts, outputs.get("loss")

    # -- hooks ---------------------------------------------------------------------------------

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        parts, total = self._components(outputs)
        if parts is None or not trainer.is_global_zero:
            return
        every = self.log_every_n_steps or getattr(trainer, "log_every_n_steps", 1) or 1
        step = trainer.global_step
        if step % every:
            return
        summary.write(parts, step=step, split="train", weights=self._weights_for(pl_module),
                      total=total, name=self.name, writer=self._writer_for(trainer))

    def on_validation_epoch_start(self, trainer, pl_module):
        self._val_sums, self._val_count = None, 0.0

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx,
                                dataloader_idx=0):
        parts, total = self._components(outputs)
        if parts is None or trainer.sanity_checking:
            return
        size = float(_batch_size(batch))
        names = list(parts) + (["__total__"] if total is not None else [])
        values = torch.stack([torch.as_tensor(v).detach().reshape(()).to(torch.float64).cpu()
                              for v in list(parts.values()) + ([total] if total is not None else [])])
        if self._val_sums is None:
            self._val_names, self._val_sums = names, torch.zeros(len(names), dtype=torch.float64)
        if names != self._val_names:
            raise ValueError("validation_step returned components %s after %s in one epoch"
                             % (names, self._val_names))
        self._val_sums += values * size
        self._val_count += size

    def on_validation_epoch_end(self, trainer, pl_module):
        if self._val_sums is None or trainer.sanity_checking:
            return
        sums = torch.cat([self._val_sums, torch.tensor([self._val_count], dtype=torch.float64)])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(sums)  # one collective: every rank's sums and counts
        if not trainer.is_global_zero:
            return
        means = (sums[:-1] / sums[-1]).tolist()
        parts = dict(zip(self._val_names, means))
        total = parts.pop("__total__", None)
        summary.write(parts, step=trainer.global_step, split="val",
                      weights=self._weights_for(pl_module), total=total, name=self.name,
                      writer=self._writer_for(trainer))

    def on_fit_end(self, trainer, pl_module):
        writer = self._writer
        if writer is not None and hasattr(writer, "flush"):
            writer.flush()


def _batch_size(batch):
    if isinstance(batch, torch.Tensor):
        return batch.shape[0] if batch.dim() else 1
    if isinstance(batch, (list, tuple)) and batch:
        return _batch_size(batch[0])
    if isinstance(batch, dict) and batch:
        return _batch_size(next(iter(batch.values())))
    return 1
