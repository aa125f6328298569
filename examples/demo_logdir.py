"""Writes a realistic demo logdir: five simulated detector trainings, one per story.

    python examples/demo_logdir.py demo_logs        # then: tensorboard --logdir demo_logs

- yolov8n_healthy:        box/cls/dfl with YOLOv8's gains (7.5/0.5/1.5); everything learns.
- faster_rcnn_overfit:    Detectron2-style parts and a logged total; val loss_cls passes its
                          minimum around epoch 30 and climbs while train keeps falling.
- retinanet_single_class: a one-class dataset: the classification loss is stuck at zero.
- yolox_l1_schedule:      the L1 term switches on for the last 15 epochs (a component that
                          appears mid-run) and the cls weight warms up (a weight schedule).
- detr_aux:               two losses in one run: "loss" and the decoder's "aux_loss".

Needs only numpy and this package (no TensorFlow, no torch). Deterministic (seeded).
"""

import argparse
import os
import shutil

import numpy as np

import tensorboard_plugin_detloss as detloss

EPOCHS = 60
ITERS_PER_EPOCH = 50
SECONDS_PER_ITER = 0.35
START_TIME = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _decay(t, start, end, rate):
    """A loss curve from `start` towards `end`; t in [0, 1]."""
    return end + (start - end) * np.exp(-rate * t)


def _noisy(rng, curve, rel):
    return curve * (1.0 + rel * rng.standard_normal(curve.shape))


def _walltime(step):
    return START_TIME + step * SECONDS_PER_ITER


def _train_steps():
    return np.arange(EPOCHS * ITERS_PER_EPOCH)


def _val_steps():
    return (np.arange(1, EPOCHS + 1) * ITERS_PER_EPOCH) - 1


def yolov8n_healthy(logdir, rng):
    gains = {"box": 7.5, "cls": 0.5, "dfl": 1.5}
    steps = _train_steps()
    t = steps / steps[-1]
    train = {
        "box": _noisy(rng, _decay(t, 0.11, 0.045, 3.0), 0.04),
        "cls": _noisy(rng, _decay(t, 3.2, 0.55, 4.0), 0.05),
        "dfl": _noisy(rng, _decay(t, 1.05, 0.82, 2.5), 0.02),
    }
    vsteps = _val_steps()
    tv = vsteps / steps[-1]
    val = {
        "box": _noisy(rng, _decay(tv, 0.10, 0.050, 3.0), 0.02),
        "cls": _noisy(rng, _decay(tv, 2.6, 0.68, 4.0), 0.02),
        "dfl": _noisy(rng, _decay(tv, 1.02, 0.85, 2.5), 0.01),
    }
    with detloss.summary.FileWriter(os.path.join(logdir, "yolov8n_healthy")) as w:
        _write_split(w, steps, train, gains, "train")
        _write_split(w, vsteps, val, gains, "val")


def faster_rcnn_overfit(logdir, rng):
    steps = _train_steps()
    t = steps / steps[-1]
    train = {
        "loss_rpn_cls": _noisy(rng, _decay(t, 0.35, 0.02, 5.0), 0.08),
        "loss_rpn_loc": _noisy(rng, _decay(t, 0.25, 0.04, 4.0), 0.08),
        "loss_cls": _noisy(rng, _decay(t, 1.20, 0.08, 4.5), 0.05),
        "loss_box_reg": _noisy(rng, _decay(t, 0.60, 0.15, 3.0), 0.05),
    }
    vsteps = _val_steps()
    tv = vsteps / steps[-1]
    val_cls = _decay(tv, 1.10, 0.35, 6.0) + 0.9 * np.maximum(tv - 0.5, 0.0) ** 1.5
    val = {
        "loss_rpn_cls": _noisy(rng, _decay(tv, 0.33, 0.04, 5.0), 0.03),
        "loss_rpn_loc": _noisy(rng, _decay(tv, 0.24, 0.06, 4.0), 0.03),
        "loss_cls": _noisy(rng, val_cls, 0.02),
        "loss_box_reg": _noisy(rng, _decay(tv, 0.58, 0.20, 3.0), 0.02),
    }
    with detloss.summary.FileWriter(os.path.join(logdir, "faster_rcnn_overfit")) as w:
        _write_split(w, steps, train, None, "train", log_total=True)
        _write_split(w, vsteps, val, None, "val", log_total=True)


def retinanet_single_class(logdir, rng):
    steps = _train_steps()
    t = steps / steps[-1]
    train = {
        "cls": np.zeros(len(steps)),  # one class: nothing to classify
        "box": _noisy(rng, _decay(t, 0.9, 0.25, 3.5), 0.05),
    }
    vsteps = _val_steps()
    tv = vsteps / steps[-1]
    val = {"cls": np.zeros(len(vsteps)), "box": _noisy(rng, _decay(tv, 0.85, 0.3, 3.5), 0.02)}
    with detloss.summary.FileWriter(os.path.join(logdir, "retinanet_single_class")) as w:
        _write_split(w, steps, train, {"cls": 1.0, "box": 1.0}, "train")
        _write_split(w, vsteps, val, {"cls": 1.0, "box": 1.0}, "val")


def yolox_l1_schedule(logdir, rng):
    steps = _train_steps()
    t = steps / steps[-1]
    l1_from = (EPOCHS - 15) * ITERS_PER_EPOCH
    train = {
        "iou": _noisy(rng, _decay(t, 4.2, 1.9, 3.0), 0.04),
        "conf": _noisy(rng, _decay(t, 6.0, 2.2, 3.5), 0.05),
        "cls": _noisy(rng, _decay(t, 2.8, 0.9, 4.0), 0.05),
        "l1": _noisy(rng, _decay(t, 1.6, 1.1, 2.0), 0.05),
    }
    cls_weight = np.minimum(1.0, 0.25 + 0.75 * steps / (10 * ITERS_PER_EPOCH))  # warm-up
    with detloss.summary.FileWriter(os.path.join(logdir, "yolox_l1_schedule")) as w:
        for i, step in enumerate(steps.tolist()):
            comps = {k: float(v[i]) for k, v in train.items() if k != "l1" or step >= l1_from}
            weights = {"iou": 5.0, "conf": 1.0, "cls": float(cls_weight[i])}
            detloss.summary.write(comps, step=step, weights=weights, writer=w,
                                  walltime=_walltime(step))
        vsteps = _val_steps()
        tv = vsteps / steps[-1]
        val = {
            "iou": _noisy(rng, _decay(tv, 4.0, 2.0, 3.0), 0.02),
            "conf": _noisy(rng, _decay(tv, 5.6, 2.4, 3.5), 0.02),
            "cls": _noisy(rng, _decay(tv, 2.5, 1.0, 4.0), 0.02),
        }
        _write_split(w, vsteps, val, {"iou": 5.0, "conf": 1.0, "cls": 1.0}, "val")


def detr_aux(logdir, rng):
    steps = _train_steps()
    t = steps / steps[-1]
    gains = {"ce": 1.0, "bbox": 5.0, "giou": 2.0}
    main = {
        "ce": _noisy(rng, _decay(t, 2.1, 0.35, 3.0), 0.05),
        "bbox": _noisy(rng, _decay(t, 0.12, 0.03, 3.0), 0.05),
        "giou": _noisy(rng, _decay(t, 0.9, 0.3, 3.0), 0.05),
    }
    aux = {k: v * 1.15 for k, v in main.items()}
    with detloss.summary.FileWriter(os.path.join(logdir, "detr_aux")) as w:
        _write_split(w, steps, main, gains, "train")
        _write_split(w, steps, aux, gains, "train", name="aux_loss")


def _write_split(writer, steps, series, gains, split, name="loss", log_total=False):
    names = list(series)
    for i, step in enumerate(steps.tolist()):
        comps = {k: float(series[k][i]) for k in names}
        total = None
        if log_total:
            total = sum((gains or {}).get(k, 1.0) * comps[k] for k in names)
        detloss.summary.write(comps, step=step, split=split, weights=gains, total=total,
                              name=name, writer=writer, walltime=_walltime(step))


RUNS = [yolov8n_healthy, faster_rcnn_overfit, retinanet_single_class, yolox_l1_schedule, detr_aux]


def write_demo(logdir):
    """Writes every demo run under `logdir` (replacing an earlier demo there)."""
    for i, make_run in enumerate(RUNS):
        run_dir = os.path.join(logdir, make_run.__name__)
        if os.path.isdir(run_dir):
            shutil.rmtree(run_dir)
        make_run(logdir, np.random.default_rng(1000 + i))
    return [f.__name__ for f in RUNS]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("logdir", help="where to write the demo runs")
    args = parser.parse_args()
    runs = write_demo(args.logdir)
    print("wrote %d demo runs to %s: %s" % (len(runs), args.logdir, ", ".join(runs)))


if __name__ == "__main__":
    main()
