"""Ultralytics (YOLOv8 / YOLO11) integration: `detloss.ultralytics.add_callbacks(model)`.

    from ultralytics import YOLO
    model = YOLO("yolo11n.yaml")
    detloss.ultralytics.add_callbacks(model)
    model.train(data="data.yaml", epochs=100)

Ultralytics multiplies every loss item by its gain before logging (`v8DetectionLoss`: box × hyp.box,
cls × hyp.cls, dfl × hyp.dfl; segmentation's seg × hyp.box; pose × hyp.pose, kobj × hyp.kobj;
OBB angle × hyp.angle). This callback writes the *raw* component (logged value ÷ gain) with the
run's *actual* gain as its weight, so contributions equal what Ultralytics optimised and the
"what-if weights" view re-weights real raw values. Train (the epoch's running mean,
`trainer.tloss`) and val (`trainer.metrics["val/*_loss"]`) once per epoch, at step epoch + 1 —
the step of Ultralytics' own TensorBoard scalars — into the run's `save_dir`, beside them.
Only rank 0 writes.
"""

from tensorboard_plugin_detloss import event_file, summary

# loss item name -> the hyperparameter holding its gain (ultralytics/utils/loss.py)
GAIN_OF = {
    "box_loss": "box", "cls_loss": "cls", "dfl_loss": "dfl", "l1_loss": "dfl",
    "seg_loss": "box", "sem_loss": "box", "pose_loss": "pose", "kobj_loss": "kobj",
    "angle_loss": "angle", "rle_loss": "rle",
}


def _component(item):
    return item[:-5] if item.endswith("_loss") else item


class _Breakdown:
    """The callback's state: one FileWriter per training run, epochs already written."""

    def __init__(self, name="loss"):
        self.name = name
        self.writer = None
        self.train_epochs = set()
        self.val_epochs = set()

    def gains(self, trainer, items):
        args = trainer.args
        return {_component(i): float(getattr(args, GAIN_OF[i])) if i in GAIN_OF
                and getattr(args, GAIN_OF[i], None) is not None else 1.0 for i in items}

    def write(self, trainer, split, logged):
        """`logged`: {item name: gain-weighted value} as Ultralytics logs it."""
        if not logged:
            return
        weights = self.gains(trainer, list(logged))
        raw = {}
        for item, value in logged.items():
            c = _component(item)
            value = float(value)
            raw[c] = value / weights[c] if weights[c] != 0 else value
        if self.writer is None:
            self.writer = event_file.FileWriter(str(trainer.save_dir))
        summary.write(raw, step=trainer.epoch + 1, split=split, weights=weights, name=self.name,
                      writer=self.writer)
        self.writer.flush()

    def on_fit_epoch_end(self, trainer):
        # Ultralytics calls this once more after the final validation, with epoch == epochs and
        # the last epoch's numbers: not a new epoch.
        if not _is_rank_zero() or trainer.epoch >= trainer.epochs:
            return
        epoch = trainer.epoch + 1
        if epoch not in self.train_epochs and trainer.tloss is not None:
            names = list(trainer.loss_names)
            tloss = trainer.tloss
            if isinstance(tloss, dict):
                logged = {k: v for k, v in tloss.items() if k in names}
            else:  # older releases: a tensor in loss_names order
                values = tloss.reshape(-1).tolist() if hasattr(tloss, "reshape") else [tloss]
                logged = dict(zip(names, values))
            self.write(trainer, "train", logged)
            self.train_epochs.add(epoch)
        metrics = trainer.metrics or {}
        val = {k[len("val/"):]: v for k, v in metrics.items()
               if k.startswith("val/") and k.endswith("_loss")}
        if val and epoch not in self.val_epochs:
            self.write(trainer, "val", val)
            self.val_epochs.add(epoch)

    def teardown(self, trainer):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _is_rank_zero():
    try:
        from ultralytics.utils import RANK
    except ImportError:  # pragma: no cover
        return True
    return RANK in (-1, 0)


def add_callbacks(model, name="loss"):
    """Registers the breakdown callbacks on an Ultralytics `YOLO` model; returns the model."""
    state = _Breakdown(name)
    model.add_callback("on_fit_epoch_end", state.on_fit_epoch_end)
    model.add_callback("teardown", state.teardown)
    model.add_callback("on_train_end", state.teardown)
    return model
