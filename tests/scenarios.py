"""Synthetic detection trainings with known ground truth, for the diagnostics engine.

`healthy(seed)` makes a run in which nothing is wrong; `injected(kind, seed)` makes one with one
failure of `kind` injected at a known step and size. Both return (splits, truth): splits is
{split: diagnostics.SplitData}, truth a dict (kind, component, split, step) or None.

Used by tests/test_diagnostics.py and bench/diagnostics_quality.py (docs/DIAGNOSTICS.md).
"""

import numpy as np

from tensorboard_plugin_detloss.diagnostics import SplitData

COMPONENTS = ("box", "cls", "dfl")
GAINS = {"box": 7.5, "cls": 0.5, "dfl": 1.5}
INJECTED_KINDS = ("non_finite", "zero", "stalled", "overfitting", "rising", "spike", "dominant",
                  "total_mismatch", "weight_change")


def _shape(rng):
    """Per component: start level, end level, decay rate (healthy exponential-like decay)."""
    return {
        "box": (rng.uniform(0.08, 0.14), rng.uniform(0.03, 0.05), rng.uniform(2.0, 4.0)),
        "cls": (rng.uniform(2.0, 4.0), rng.uniform(0.4, 0.8), rng.uniform(2.0, 4.0)),
        "dfl": (rng.uniform(1.0, 1.2), rng.uniform(0.75, 0.9), rng.uniform(2.0, 3.5)),
    }


def _noise(rng, n, level):
    """Multiplicative noise with moderately heavy tails (Student t, 6 d.o.f.)."""
    return 1.0 + level * rng.standard_t(6, n) / np.sqrt(1.5)


def _make(rng, epochs, iters, noise, shape):
    steps = np.arange(epochs * iters)
    t = steps / steps[-1]
    val_steps = (np.arange(1, epochs + 1) * iters) - 1
    tv = val_steps / steps[-1]
    train, val = {}, {}
    for c, (start, end, rate) in shape.items():
        train[c] = (end + (start - end) * np.exp(-rate * t)) * _noise(rng, len(t), noise)
        # Validation: the same shape, a little higher, logged once per epoch, less noisy.
        gap = rng.uniform(1.02, 1.12)
        val[c] = gap * (end + (start - end) * np.exp(-rate * tv)) * _noise(rng, len(tv), noise / 3)
    return steps, train, val_steps, val


def _splits(steps, train, val_steps, val, weights=None, total=None):
    weights = weights or GAINS
    return {
        "train": SplitData.from_arrays(steps, train, weights, total),
        "val": SplitData.from_arrays(val_steps, val, GAINS),
    }


def _sizes(rng):
    epochs = int(rng.choice([30, 50, 80, 120]))
    iters = int(rng.choice([20, 50, 100]))
    noise = float(rng.choice([0.01, 0.03, 0.06, 0.1]))
    return epochs, iters, noise


def healthy(seed):
    rng = np.random.default_rng(seed)
    epochs, iters, noise = _sizes(rng)
    steps, train, val_steps, val = _make(rng, epochs, iters, noise, _shape(rng))
    return _splits(steps, train, val_steps, val), None


def injected(kind, seed):
    """A run with one failure of `kind`; truth names the component, split and onset step."""
    rng = np.random.default_rng(10_000 + seed)
    epochs, iters, noise = _sizes(rng)
    shape = _shape(rng)
    component = str(rng.choice(COMPONENTS))
    if kind == "stalled":
        component = "cls"  # the component with most left to learn, so a stall is clear
        for c in shape:  # the others must still be learning after the stall
            shape[c] = (shape[c][0], shape[c][1], min(shape[c][2], 2.5))
    steps, train, val_steps, val = _make(rng, epochs, iters, noise, shape)
    n = len(steps)
    at = int(rng.uniform(0.3, 0.6) * n)
    onset = int(steps[at])
    weights = dict(GAINS)
    total = None
    split = "train"
    if kind == "non_finite":
        train[component][at:] = np.nan
    elif kind == "zero":
        component = "cls"
        train["cls"][:] = 0.0
        val["cls"][:] = 0.0
        onset = 0
    elif kind == "stalled":
        frozen = np.median(train[component][max(0, at - iters):at + 1])
        train[component][at:] = frozen * _noise(rng, n - at, noise)
    elif kind == "rising":
        t = (steps[at:] - onset) / (steps[-1] - onset)
        level = np.median(train[component][max(0, at - iters):at + 1])
        train[component][at:] = level * (1 + rng.uniform(0.3, 0.8) * t) * _noise(rng, n - at, noise)
    elif kind == "spike":
        where = rng.choice(np.arange(int(0.1 * n), n), size=3, replace=False)
        train[component][where] *= rng.uniform(4.0, 8.0)
        onset = int(steps[np.min(where)])
    elif kind == "overfitting":
        split = "val"
        tv = np.clip((val_steps - onset) / (val_steps[-1] - onset), 0, 1)
        at_v = int(np.searchsorted(val_steps, onset))
        base = val[component][max(0, at_v - 1)]
        val[component] = np.where(
            val_steps < onset, val[component],
            base * (1 + rng.uniform(0.25, 0.6) * tv ** 1.3) * _noise(rng, len(tv), noise / 3))
    elif kind == "dominant":
        split = "val"
        component = "cls"
        tv = np.clip((val_steps - onset) / (val_steps[-1] - onset), 0, 1)
        val["cls"] = val["cls"] * (1 + rng.uniform(20.0, 30.0) * tv)  # ~30% -> ~85% of the total
    elif kind == "total_mismatch":
        component = None
        summed = sum(GAINS[c] * train[c] for c in train)
        total = summed * (1.0 + rng.uniform(0.05, 0.2)) if rng.random() < 0.5 else \
            summed + rng.uniform(0.05, 0.2) * np.median(summed)
        onset = 0
    elif kind == "weight_change":
        new = GAINS[component] * rng.choice([0.5, 2.0])
        weights[component] = np.where(steps >= onset, new, GAINS[component])
    else:
        raise ValueError("unknown kind %r" % kind)
    truth = {"kind": kind, "component": component, "split": split, "step": onset,
             "run_length": int(steps[-1])}
    return _splits(steps, train, val_steps, val, weights, total), truth


def detected(findings, truth):
    """Whether `findings` report the injected failure (right kind, component and split)."""
    for f in findings:
        if f.kind != truth["kind"] or f.component != truth["component"]:
            continue
        if f.split != truth["split"] and truth["kind"] != "zero":
            continue
        if truth["kind"] in ("stalled", "overfitting", "rising", "non_finite", "weight_change"):
            tolerance = 0.2 * truth["run_length"]
            if abs(f.start_step - truth["step"]) > tolerance:
                continue
        return True
    return False
