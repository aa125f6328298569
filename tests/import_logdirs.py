"""Framework-style logs for the importer tests: the same tags, writers and step patterns as
each framework's own logging code (docs/IMPORT.md says where each was confirmed).

Every writer records what a reader must get back in an `Imported`: per (run, split), the
component values per step (last write of a step wins), the logged total, and the profile.
torch's SummaryWriter and tf.summary.scalar both store float32, so values are recorded as
float32 rounded.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

import tensorboard_plugin_detloss as detloss


def f32(v):
    return float(np.float32(v))


class Imported:
    """(run, split) -> {"source", "components", "points": {step: {c: v}}, "totals": {step: v}}."""

    def __init__(self):
        self.series = {}
        self.negative_runs = []  # TensorBoard runs that must not be listed

    def declare(self, run, split, source, components, weights=None):
        self.series[(run, split)] = {"source": source, "components": list(components),
                                     "points": {}, "totals": {}, "weights": weights or {}}

    def value(self, run, split, step, component, v):
        self.series[(run, split)]["points"].setdefault(step, {})[component] = f32(v)

    def total(self, run, split, step, v):
        self.series[(run, split)]["totals"][step] = f32(v)

    def breakdown(self, key):
        """The `breakdown` route's JSON fields for (run, split) (weights are 1 throughout)."""
        s = self.series[key]
        steps = sorted(set(s["points"]) | set(s["totals"]))
        comps = s["components"]
        pts = s["points"]
        return {
            "run": key[0], "name": "loss", "split": key[1], "components": comps,
            "steps": steps,
            "values": {c: [pts.get(t, {}).get(c) for t in steps] for c in comps},
            "weights": {c: [s["weights"].get(c, 1.0) if c in pts.get(t, {}) else None
                            for t in steps] for c in comps},
            "total": [s["totals"].get(t) for t in steps] if s["totals"] else None,
        }


def _torch_writer(logdir, run, **kwargs):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(os.path.join(logdir, run), **kwargs)


def _add_graph_and_image(writer, step):
    """A model graph and an image, as the frameworks log them beside the scalars."""
    import torch

    writer.add_graph(torch.jit.trace(torch.nn.Linear(3, 2), torch.zeros(1, 3)), [])
    writer.add_image("results", np.zeros((8, 8, 3), np.uint8), step, dataformats="HWC")


def write_yolov5(logdir, exp, run="yolov5_exp"):
    """utils/loggers/__init__.py: every key of `self.keys` at step = epoch (0-based)."""
    w = _torch_writer(logdir, run)
    comps = ["box_loss", "obj_loss", "cls_loss"]
    exp.declare(run, "train", "ultralytics_yolov5", comps)
    exp.declare(run, "val", "ultralytics_yolov5", comps)
    _add_graph_and_image(w, 0)
    for epoch in range(6):
        vals = {}
        for i, c in enumerate(comps):
            vals["train/" + c] = 0.1 / (epoch + 1) + 0.01 * i
            vals["val/" + c] = 0.12 / (epoch + 1) + 0.01 * i
        vals.update({"metrics/precision": 0.1 * epoch, "metrics/recall": 0.05 * epoch,
                     "metrics/mAP_0.5": 0.08 * epoch, "metrics/mAP_0.5:0.95": 0.04 * epoch,
                     "x/lr0": 0.01, "x/lr1": 0.01, "x/lr2": 0.09})
        for k, v in vals.items():
            w.add_scalar(k, v, epoch)
            split, _, c = k.partition("/")
            if c in comps and split in ("train", "val"):
                exp.value(run, split, epoch, c, v)
    w.close()


def write_yolov8_per_batch(logdir, exp, run="detect/train"):
    """Ultralytics 8.0 tensorboard callback: `on_batch_end` writes the running means of the
    epoch after every batch at step = epoch + 1; `on_fit_epoch_end` writes metrics, val
    losses and lr/pg*; the final validation re-writes the metrics at the last step."""
    w = _torch_writer(logdir, run)
    comps = ["box_loss", "cls_loss", "dfl_loss"]
    exp.declare(run, "train", "ultralytics_yolov8", comps)
    exp.declare(run, "val", "ultralytics_yolov8", comps)
    epochs, batches = 5, 7
    for epoch in range(epochs):
        sums = np.zeros(3)
        for b in range(batches):
            batch_losses = np.array([1.5, 2.5, 1.2]) / (epoch + 1) + 0.01 * b
            sums += batch_losses
            tloss = np.round(sums / (b + 1), 5)  # label_loss_items rounds to 5 decimals
            for c, v in zip(comps, tloss):
                w.add_scalar("train/" + c, float(v), epoch + 1)
        for c, v in zip(comps, tloss):
            exp.value(run, "train", epoch + 1, c, float(v))
        metrics = {"metrics/precision(B)": 0.1 * epoch, "metrics/recall(B)": 0.2,
                   "metrics/mAP50(B)": 0.3 + 0.01 * epoch, "metrics/mAP50-95(B)": 0.2}
        for c, v in zip(comps, [1.7 / (epoch + 1), 2.6 / (epoch + 1), 1.3]):
            metrics["val/" + c] = v
            exp.value(run, "val", epoch + 1, c, v)
        metrics.update({"lr/pg0": 0.01, "lr/pg1": 0.01, "lr/pg2": 0.01})
        for k, v in metrics.items():
            w.add_scalar(k, v, epoch + 1)
    for k, v in {"metrics/precision(B)": 0.9, "metrics/mAP50(B)": 0.99}.items():
        w.add_scalar(k, v, epochs)  # final_eval of best.pt, at the last step again
    w.close()


def write_yolo11_seg(logdir, exp, run="segment/train2"):
    """Ultralytics >= 8.1: `on_train_epoch_end` writes the train losses once per epoch."""
    w = _torch_writer(logdir, run)
    comps = ["box_loss", "seg_loss", "cls_loss", "dfl_loss"]
    exp.declare(run, "train", "ultralytics_yolov8", comps)
    exp.declare(run, "val", "ultralytics_yolov8", comps)
    for epoch in range(4):
        for split, scale in (("train", 1.0), ("val", 1.1)):
            for i, c in enumerate(comps):
                v = scale * (1.0 + i) / (epoch + 2)
                w.add_scalar("%s/%s" % (split, c), v, epoch + 1)
                exp.value(run, split, epoch + 1, c, v)
        w.add_scalar("metrics/mAP50-95(M)", 0.1 * epoch, epoch + 1)
    w.close()


def write_rtdetr_ultralytics(logdir, exp, run="rtdetr_l"):
    w = _torch_writer(logdir, run)
    comps = ["giou_loss", "cls_loss", "l1_loss"]
    exp.declare(run, "train", "ultralytics_rtdetr", comps)
    exp.declare(run, "val", "ultralytics_rtdetr", comps)
    for epoch in range(3):
        for split in ("train", "val"):
            for i, c in enumerate(comps):
                v = (0.5 + i) / (epoch + 1) + (0.05 if split == "val" else 0.0)
                w.add_scalar("%s/%s" % (split, c), v, epoch + 1)
                exp.value(run, split, epoch + 1, c, v)
        w.add_scalar("metrics/mAP50(B)", 0.2 * epoch, epoch + 1)
    w.close()


def write_detectron2(logdir, exp, run="d2_faster_rcnn"):
    """TensorboardXWriter: every scalar of the storage every 20 iterations (medians), a
    restart from iteration 59 in a second event file, and COCO AP with NaN for empty size
    buckets at the end. A validation hook writes val_* losses every 60 iterations."""
    comps = ["loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg"]
    exp.declare(run, "train", "detectron2", comps)
    exp.declare(run, "val", "detectron2", comps)

    def log(w, it, shift):
        vals = {c: (0.3 + 0.1 * i) * 100.0 / (it + 100.0) + shift for i, c in enumerate(comps)}
        # A median of sums is not the sum of medians: the total is off the sum on purpose.
        total = sum(vals.values()) + 0.0125
        for c, v in vals.items():
            w.add_scalar(c, v, it)
            exp.value(run, "train", it, c, v)
        w.add_scalar("total_loss", total, it)
        exp.total(run, "train", it, total)
        for k, v in {"lr": 0.02, "fast_rcnn/cls_accuracy": 0.9, "fast_rcnn/fg_cls_accuracy": 0.5,
                     "data_time": 0.01, "time": 0.3, "eta_seconds": 100.0}.items():
            w.add_scalar(k, v, it)
        if (it + 1) % 60 == 0:
            for c, v in vals.items():
                w.add_scalar("val_" + c, v * 1.1, it)
                exp.value(run, "val", it, c, v * 1.1)
            w.add_scalar("val_total_loss", total * 1.1, it)
            exp.total(run, "val", it, total * 1.1)

    w = _torch_writer(logdir, run, filename_suffix=".a")
    for it in range(19, 120, 20):
        log(w, it, 0.0)
    w.close()
    # Resumed from the checkpoint of iteration 59: iterations 59..99 logged again, later.
    w = _torch_writer(logdir, run, filename_suffix=".b")
    for it in range(59, 200, 20):
        log(w, it, 0.001)
    for k, v in {"bbox/AP": 35.5, "bbox/AP50": 55.0, "bbox/APs": float("nan"),
                 "bbox/APl": -1.0}.items():
        w.add_scalar(k, v, 199)
    w.close()


def write_mmdet2_cascade(logdir, exp, run="mmdet2_cascade"):
    """mmcv TensorboardLoggerHook: `train/<var>` every interval of iterations, lr as
    learning_rate, momentum; the val workflow's losses as `val/<var>`; eval mAP as val/."""
    w = _torch_writer(logdir, run)
    comps = ["loss_rpn_cls", "loss_rpn_bbox", "s0.loss_cls", "s0.loss_bbox", "s1.loss_cls",
             "s1.loss_bbox"]
    order = ["loss_rpn_cls", "loss_rpn_bbox", "s0.loss_bbox", "s0.loss_cls", "s1.loss_bbox",
             "s1.loss_cls"]
    exp.declare(run, "train", "mmdetection", order)
    exp.declare(run, "val", "mmdetection", order)
    for it in range(50, 301, 50):
        vals = {c: (1.0 + i) / it * 10 for i, c in enumerate(comps)}
        for c, v in vals.items():
            w.add_scalar("train/" + c, v, it)
            exp.value(run, "train", it, c, v)
        w.add_scalar("train/loss", sum(vals.values()), it)
        exp.total(run, "train", it, sum(vals.values()))
        for k, v in {"train/s0.acc": 91.0, "train/s1.acc": 93.0, "learning_rate": 0.02,
                     "momentum": 0.9}.items():
            w.add_scalar(k, v, it)
    for c in comps:
        w.add_scalar("val/" + c, 0.5, 300)
        exp.value(run, "val", 300, c, 0.5)
    w.add_scalar("val/loss", 3.0, 300)
    exp.total(run, "val", 300, 3.0)
    for k, v in {"val/bbox_mAP": 0.4, "val/bbox_mAP_50": 0.6, "val/bbox_mAP_s": -1.0}.items():
        w.add_scalar(k, v, 300)
    w.close()


def write_mmdet3(logdir, exp, run="mmdet3_retinanet"):
    """mmengine TensorboardVisBackend: unprefixed tags at step = iteration."""
    w = _torch_writer(logdir, run)
    comps = ["loss_cls", "loss_bbox"]
    exp.declare(run, "train", "mmdetection", comps)
    for it in range(10, 61, 10):
        vals = {"loss_cls": 1.0 / it * 10, "loss_bbox": 0.5}
        for c, v in vals.items():
            w.add_scalar(c, v, it)
            exp.value(run, "train", it, c, v)
        w.add_scalar("loss", sum(vals.values()), it)
        exp.total(run, "train", it, sum(vals.values()))
        for k, v in {"lr": 0.01, "base_lr": 0.01, "grad_norm": 3.0, "data_time": 0.1,
                     "time": 0.4, "memory": 2048}.items():
            w.add_scalar(k, v, it)
    w.add_scalar("coco/bbox_mAP", 0.31, 60)
    w.add_scalar("coco/bbox_mAP_s", -1.0, 60)
    w.close()


def write_yolox(logdir, exp, run="yolox_s"):
    """yolox/core/trainer.py: train/<loss> every print_interval iterations at
    progress_in_iter; l1_loss is 0 until the no-augmentation epochs; val/COCOAP* per epoch."""
    w = _torch_writer(logdir, run)
    comps = ["iou_loss", "conf_loss", "cls_loss", "l1_loss"]
    exp.declare(run, "train", "yolox", comps)
    max_iter = 30
    for epoch in range(4):
        for it in range(9, max_iter, 10):
            step = epoch * max_iter + it
            vals = {"iou_loss": 5.0 * 0.6 / (step + 1), "conf_loss": 1.2, "cls_loss": 0.8,
                    "l1_loss": 0.0 if epoch < 3 else 0.25}
            w.add_scalar("train/lr", 0.01, step)
            for c in ["total_loss", "iou_loss", "l1_loss", "conf_loss", "cls_loss"]:
                v = sum(vals.values()) if c == "total_loss" else vals[c]
                w.add_scalar("train/" + c, v, step)
                if c == "total_loss":
                    exp.total(run, "train", step, v)
                else:
                    exp.value(run, "train", step, c, v)
        w.add_scalar("val/COCOAP50", 0.1 * epoch, epoch + 1)
        w.add_scalar("val/COCOAP50_95", 0.05 * epoch, epoch + 1)
    w.close()


def write_rtdetr_lyuwenyu(logdir, exp, run="rtdetrv2_r18"):
    """rtdetrv2_pytorch det_engine.py: Loss/total, Lr/pg_j and Loss/<k> per iteration;
    det_solver.py: Test/<k>_<i> per epoch."""
    w = _torch_writer(logdir, run)
    base = ["loss_vfl", "loss_bbox", "loss_giou"]
    comps = base + ["%s_aux_%d" % (b, i) for i in range(2) for b in base]
    comps += ["%s_dn_%d" % (b, i) for i in range(2) for b in base]
    comps += ["%s_enc_0" % b for b in base]
    order = base + sorted(c for c in comps if c not in base)
    exp.declare(run, "train", "rtdetr", order)
    for step in range(12):
        vals = {c: 0.1 + 0.01 * i + 1.0 / (step + 1) for i, c in enumerate(comps)}
        w.add_scalar("Loss/total", sum(vals.values()), step)
        exp.total(run, "train", step, sum(vals.values()))
        w.add_scalar("Lr/pg_0", 1e-4, step)
        w.add_scalar("Lr/pg_1", 1e-5, step)
        for c, v in vals.items():
            w.add_scalar("Loss/" + c, v, step)
            exp.value(run, "train", step, c, v)
    for i in range(3):
        w.add_scalar("Test/coco_eval_bbox_%d" % i, 0.3 + 0.1 * i if i != 2 else -1.0, 0)
    w.close()


def write_torchvision(logdir, exp, run="tv_fasterrcnn"):
    """A training loop around torchvision's detection models logging the loss dict with
    split prefixes."""
    w = _torch_writer(logdir, run)
    comps = ["loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"]
    exp.declare(run, "train", "torchvision", comps)
    exp.declare(run, "val", "torchvision", comps)
    for step in range(0, 50, 10):
        for split in ("train", "val"):
            if split == "val" and step % 20:
                continue
            vals = {c: 0.2 * (i + 1) / (step + 1) for i, c in enumerate(comps)}
            for c, v in vals.items():
                w.add_scalar("%s/%s" % (split, c), v, step)
                exp.value(run, split, step, c, v)
            w.add_scalar(split + "/loss", sum(vals.values()), step)
            exp.total(run, split, step, sum(vals.values()))
        w.add_scalar("train/lr", 0.005, step)
    w.close()


def write_generic_suffix(logdir, exp, run="custom_suffix"):
    """A hand-written loop: `<component>_loss/<split>` tags and a `Loss/<split>` total."""
    w = _torch_writer(logdir, run)
    exp.declare(run, "train", "generic", ["box_loss", "heatmap_loss"])
    exp.declare(run, "val", "generic", ["box_loss", "heatmap_loss"])
    for step in range(5):
        for split in ("train", "val"):
            vals = {"box_loss": 0.25 * (step + 1), "heatmap_loss": 2.0 - 0.25 * step}
            for c, v in vals.items():
                w.add_scalar("%s/%s" % (c, split), v, step)
                exp.value(run, split, step, c, v)
            w.add_scalar("Loss/" + split, sum(vals.values()), step)
            exp.total(run, split, step, sum(vals.values()))
    w.close()


def write_native_and_scalars(logdir, exp, run="native_wins"):
    """detloss data and Ultralytics-style scalars in one run: the native data is served."""
    w = _torch_writer(logdir, run)
    for step in range(3):
        detloss.summary.write({"box": 0.5, "cls": 1.0}, step=step, writer=w)
        for c in ("box_loss", "cls_loss", "dfl_loss"):
            w.add_scalar("train/" + c, 1.0, step)
    w.close()


CONFIG = {
    "version": 1,
    "profiles": [
        {
            "name": "my_detector",
            "title": "In-house DETR",
            "components": {"cls": "ce", "box": "bbox_l1", "giou": "giou"},
            "total": "objective",
            "splits": {"train": "{}", "val": "val_{}"},
            "weights": {"box": 5.0, "giou": 2.0},
            "metrics": ["AP"],
        },
        {
            "name": "yolov8_raw",
            "extends": "ultralytics_yolov8",
            "unweight": True,
            "runs": "raw_*",
        },
    ],
    "runs": {"forced_off": "none"},
}


def write_config_runs(logdir, exp):
    """Runs that only the override file (CONFIG, written as detloss_profile.json) explains."""
    with open(os.path.join(logdir, "detloss_profile.json"), "w") as f:
        json.dump(CONFIG, f)
    run = "custom_detr"
    w = _torch_writer(logdir, run)
    weights = {"box": 5.0, "giou": 2.0}
    exp.declare(run, "train", "my_detector", ["cls", "box", "giou"], weights)
    exp.declare(run, "val", "my_detector", ["cls", "box", "giou"], weights)
    for step in range(4):
        vals = {"ce": 1.0 / (step + 1), "bbox_l1": 0.125, "giou": 0.375}
        names = {"ce": "cls", "bbox_l1": "box", "giou": "giou"}
        for tag, v in vals.items():
            w.add_scalar(tag, v, step)
            exp.value(run, "train", step, names[tag], v)
            if step % 2:
                w.add_scalar("val_" + tag, v + 0.5, step)
                exp.value(run, "val", step, names[tag], v + 0.5)
        w.add_scalar("objective", 9.0, step)
        exp.total(run, "train", step, 9.0)
        w.add_scalar("AP", 0.1 * step, step)
    w.close()

    run = "raw_yolo8"
    w = _torch_writer(logdir, run)
    gains = {"box_loss": 7.5, "cls_loss": 0.5, "dfl_loss": 1.5}
    exp.declare(run, "train", "yolov8_raw", list(gains), gains)
    for epoch in range(3):
        for c, g in gains.items():
            w.add_scalar("train/" + c, 0.75 * (epoch + 1), epoch + 1)
            # Shown raw: the logged (weighted) value divided by the gain, the gain as weight.
            exp.series[(run, "train")]["points"].setdefault(epoch + 1, {})[c] = (
                f32(0.75 * (epoch + 1)) / g)
    w.close()

    w = _torch_writer(logdir, "forced_off")
    for step in range(3):
        w.add_scalar("train/a_loss", 1.0, step)
        w.add_scalar("train/b_loss", 2.0, step)
    w.close()
    exp.negative_runs.append("forced_off")


def write_negatives(logdir, exp):
    """Logs that are not detection-loss breakdowns: nothing of them may be listed."""
    w = _torch_writer(logdir, "resnet_classifier")
    for step in range(5):
        for k, v in {"train/loss": 1.0 / (step + 1), "val/loss": 1.2 / (step + 1),
                     "train/acc": 0.5, "val/acc": 0.45, "lr": 0.1}.items():
            w.add_scalar(k, v, step)
    w.close()
    w = _torch_writer(logdir, "yolov8_cls/train")  # Ultralytics classify: loss_names = ["loss"]
    for epoch in range(3):
        for k, v in {"train/loss": 1.0, "val/loss": 1.1, "metrics/accuracy_top1": 0.7,
                     "metrics/accuracy_top5": 0.9, "lr/pg0": 0.01}.items():
            w.add_scalar(k, v, epoch + 1)
    w.close()
    w = _torch_writer(logdir, "metrics_only")
    for epoch in range(3):
        for k, v in {"metrics/mAP50(B)": 0.5, "metrics/precision(B)": 0.6, "lr/pg0": 0.01,
                     "val/mAP": 0.4, "train/loss_scale": 65536.0}.items():
            w.add_scalar(k, v, epoch)
    w.close()
    exp.negative_runs += ["resnet_classifier", "yolov8_cls/train", "yolov8_cls",
                          "metrics_only"]


def write_odd_files(logdir, exp, run="odd_files"):
    """A YOLOv8 run beside files a real logdir has: an empty event file, a truncated one,
    one of random bytes, a non-event file; and text and histogram summaries in the run."""
    w = _torch_writer(logdir, run, filename_suffix=".0good")
    comps = ["box_loss", "cls_loss", "dfl_loss"]
    exp.declare(run, "train", "ultralytics_yolov8", comps)
    for epoch in range(3):
        for c in comps:
            w.add_scalar("train/" + c, 0.5 + epoch, epoch + 1)
            exp.value(run, "train", epoch + 1, c, 0.5 + epoch)
        w.add_text("notes", "epoch %d" % epoch, epoch + 1)
        w.add_histogram("weights", np.arange(10.0), epoch + 1)
    w.close()
    d = os.path.join(logdir, run)
    good = [f for f in os.listdir(d) if f.endswith(".0good")][0]
    with open(os.path.join(d, good), "rb") as f:
        data = f.read()
    with open(os.path.join(d, "events.out.tfevents.1.host.1truncated"), "wb") as f:
        f.write(data[: len(data) // 2 + 3])  # cut mid-record: only the steps written before
    with open(os.path.join(d, "events.out.tfevents.2.host.2empty"), "wb"):
        pass
    with open(os.path.join(d, "events.out.tfevents.3.host.3garbage"), "wb") as f:
        f.write(np.random.default_rng(0).bytes(4096))
    with open(os.path.join(d, "results.csv"), "w") as f:
        f.write("epoch,train/box_loss\n1,0.5\n")


_TF_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import tensorflow as tf
    import keras

    logdir = sys.argv[1]
    out = {"series": [], "totals": []}

    def rec(run, split, step, comp, v):
        out["series"].append([run, split, int(step), comp, float(np.float32(v))])

    def tot(run, split, step, v):
        out["totals"].append([run, split, int(step), float(np.float32(v))])

    # TF Object Detection API (model_lib_v2.py): train summaries every 100 steps in
    # <model_dir>/train, the eval loop's losses and COCO metrics once per checkpoint in
    # <model_dir>/eval, an eval image, a graph trace and a text summary (string tensors).
    def tfod(model_dir, comps):
        train = tf.summary.create_file_writer(os.path.join(logdir, model_dir, "train"))
        with train.as_default():
            tf.summary.trace_on(graph=True)
            @tf.function
            def f(x):
                return x * 2.0
            f(tf.constant(1.0))
            tf.summary.trace_export("graph", step=0)
            tf.summary.text("pipeline_config", "model { ssd {} }", step=0)
            for step in range(100, 1001, 100):
                vals = {c: (0.2 + 0.1 * i) * 1000.0 / (step + 1000.0) for i, c in enumerate(comps)}
                total = float(np.float32(sum(np.float32(v) for v in vals.values())))
                for c, v in vals.items():
                    tf.summary.scalar("Loss/" + c, v, step=step)
                    rec(model_dir, "train", step, c, v)
                tf.summary.scalar("Loss/total_loss", total, step=step)
                tf.summary.scalar("Loss/normalized_total_loss", total, step=step)
                tot(model_dir, "train", step, total)
                tf.summary.scalar("learning_rate", 0.04, step=step)
                tf.summary.scalar("steps_per_sec", 3.0, step=step)
        train.close()
        ev = tf.summary.create_file_writer(os.path.join(logdir, model_dir, "eval"))
        with ev.as_default():
            vals = {c: 0.3 + 0.1 * i for i, c in enumerate(comps)}
            for c, v in vals.items():
                tf.summary.scalar("Loss/" + c, v, step=1000)
                rec(model_dir, "val", 1000, c, v)
            tf.summary.scalar("Loss/total_loss", 1.5, step=1000)
            tot(model_dir, "val", 1000, 1.5)
            tf.summary.scalar("DetectionBoxes_Precision/mAP", 0.25, step=1000)
            tf.summary.scalar("DetectionBoxes_Precision/mAP (small)", -1.0, step=1000)
            tf.summary.scalar("DetectionBoxes_Recall/AR@100", float("nan"), step=1000)
            tf.summary.image("eval_side_by_side_0_0", np.zeros((1, 8, 8, 3), np.float32),
                             step=1000)
        ev.close()

    tfod("tfod_ssd", ["classification_loss", "localization_loss", "regularization_loss"])
    tfod("tfod_frcnn", ["RPNLoss/objectness_loss", "RPNLoss/localization_loss",
                        "BoxClassifierLoss/classification_loss",
                        "BoxClassifierLoss/localization_loss", "regularization_loss"])

    # Keras: the real TensorBoard callback on a two-output model (train/ and validation/).
    def keras_fit(run, outputs):
        inp = keras.Input((4,))
        h = keras.layers.Dense(8, activation="relu")(inp)
        outs, losses, y = {}, {}, {}
        rng = np.random.default_rng(0)
        if "box" in outputs:
            outs["box"] = keras.layers.Dense(4, name="box")(h)
            losses["box"] = "mse"
            y["box"] = rng.random((32, 4)).astype("float32")
        outs["cls"] = keras.layers.Dense(3, activation="softmax", name="cls")(h)
        losses["cls"] = "sparse_categorical_crossentropy"
        y["cls"] = rng.integers(0, 3, 32)
        model = keras.Model(inp, outs if len(outs) > 1 else outs["cls"])
        model.compile(optimizer="sgd", loss=losses if len(outs) > 1 else losses["cls"],
                      metrics=None if len(outs) > 1 else ["accuracy"])
        x = rng.random((32, 4)).astype("float32")
        y = y if len(outs) > 1 else y["cls"]
        hist = model.fit(x, y, validation_data=(x, y), epochs=3, batch_size=8, verbose=0,
                         callbacks=[keras.callbacks.TensorBoard(os.path.join(logdir, run))])
        return hist.history

    history = keras_fit("keras_det", ["box", "cls"])
    for key, values in history.items():
        split = "val" if key.startswith("val_") else "train"
        name = key[4:] if split == "val" else key
        for epoch, v in enumerate(values):
            if name == "loss":
                tot("keras_det", split, epoch, v)
            elif name.endswith("_loss"):
                rec("keras_det", split, epoch, name, v)
    keras_fit("keras_classifier", ["cls"])
    json.dump(out, sys.stdout)
    """
)


def write_tf_runs(logdir, exp):
    """TF OD API (SSD and Faster R-CNN) and Keras runs, written in a subprocess."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", _TF_SCRIPT, str(logdir)], check=True,
                          capture_output=True, text=True, env=env, timeout=600)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    profiles = {"tfod_ssd": "tf_object_detection", "tfod_frcnn": "tf_object_detection",
                "keras_det": "keras"}
    orders = {
        "tfod_ssd": ["classification_loss", "localization_loss", "regularization_loss"],
        "tfod_frcnn": ["RPNLoss/objectness_loss", "RPNLoss/localization_loss",
                       "BoxClassifierLoss/classification_loss",
                       "BoxClassifierLoss/localization_loss", "regularization_loss"],
        "keras_det": ["box_loss", "cls_loss"],
    }
    for run, profile in profiles.items():
        for split in ("train", "val"):
            exp.declare(run, split, profile, orders[run])
    for run, split, step, comp, v in out["series"]:
        exp.value(run, split, step, comp, v)
    for run, split, step, v in out["totals"]:
        exp.total(run, split, step, v)
    exp.negative_runs += ["keras_classifier", "keras_classifier/train",
                          "keras_classifier/validation"]


ALL_TORCH = [write_yolov5, write_yolov8_per_batch, write_yolo11_seg, write_rtdetr_ultralytics,
             write_detectron2, write_mmdet2_cascade, write_mmdet3, write_yolox,
             write_rtdetr_lyuwenyu, write_torchvision, write_generic_suffix,
             write_native_and_scalars, write_negatives, write_odd_files,
             write_config_runs]


def expected_keys():
    """Every (run, split) the logdir above imports (for test parametrization)."""
    both = ["yolov5_exp", "detect/train", "segment/train2", "rtdetr_l", "d2_faster_rcnn",
            "mmdet2_cascade", "tv_fasterrcnn", "custom_suffix", "custom_detr", "tfod_ssd",
            "tfod_frcnn", "keras_det"]
    train_only = ["mmdet3_retinanet", "yolox_s", "rtdetrv2_r18", "odd_files", "raw_yolo8"]
    return [(r, s) for r in both for s in ("train", "val")] + [(r, "train") for r in train_only]
