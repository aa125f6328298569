"""The diagnostics engine kept current as steps arrive (`diagnostics.Diagnoser`).

An update must give exactly what a fresh `diagnose` of the same data gives, read only the rows
after the last full bucket, and start over when rows it already read have changed.
"""

import numpy as np
import pytest

from tensorboard_plugin_detloss import diagnostics

N = 70_000  # past 2,048 × 32 points: buckets of 64, and two doublings on the way


def long_run(seed):
    """A 70k-step train split with something of every kind in it, and a val split."""
    rng = np.random.default_rng(seed)
    steps = np.arange(N) * 2
    t = np.arange(N) / N
    noise = lambda: 1 + 0.03 * rng.standard_normal(N)  # noqa: E731
    values = {
        "box": (0.05 + 0.1 * np.exp(-3 * t)) * noise(),
        "cls": (0.5 + 2.0 * np.exp(-3 * t)) * noise(),
        "dfl": (0.8 + 0.3 * np.exp(-2 * t)) * noise(),
        "l1": np.where(t < 0.3, 0.0, 0.2 * noise()),  # switched on late
        "mask": np.where((t > 0.55) & (t < 0.6), 0.0, 0.3 * noise()),  # a zero stretch
    }
    for i in rng.choice(np.arange(N // 10, N), 4, replace=False):
        values["box"][i] *= 12  # spikes
    values["dfl"][int(0.7 * N):int(0.7 * N) + 3] = np.nan
    values["cls"][int(0.4 * N):] = values["cls"][int(0.4 * N)] * noise()[int(0.4 * N):]  # stall
    weights = {c: np.ones(N) for c in values}
    weights["cls"] = np.where(t < 0.2, 0.5 + 2.5 * t, 1.0)  # a warm-up schedule
    weights["box"][int(0.5 * N):] = 7.5  # one change
    present = {c: np.ones(N, bool) for c in values}
    present["mask"][::7] = False
    total = sum(np.where(present[c], values[c] * weights[c], 0.0) for c in values) * 1.1
    train = diagnostics.SplitData(steps, list(values), values, weights, present, total,
                                  np.ones(N, bool))
    val_steps = steps[999::1000]
    vt = t[999::1000]
    val_values = {c: np.asarray(v)[999::1000] * 1.05 for c, v in values.items()}
    val_values["box"] = 0.06 + 0.1 * np.exp(-3 * vt) + 0.1 * np.maximum(vt - 0.5, 0)  # overfits
    val = diagnostics.SplitData.from_arrays(val_steps, val_values)
    return train, val


def prefix(data, n):
    """The first n rows of a split (views, as a reader would hand over a growing series)."""
    cut = lambda d: {c: a[:n] for c, a in d.items()}  # noqa: E731
    return diagnostics.SplitData(
        data.steps[:n], list(data.components), cut(data.values), cut(data.weights),
        cut(data.present), None if data.total is None else data.total[:n],
        None if data.total_present is None else data.total_present[:n])


def as_json(findings):
    return [f.to_json() for f in findings]


@pytest.mark.parametrize("seed", [0, 1])
def test_updates_equal_a_fresh_diagnosis_at_every_size(seed):
    train, val = long_run(seed)
    diagnoser = diagnostics.Diagnoser()
    kinds = set()
    for n in (1, 5, 29, 30, 31, 100, 4_097, 16_384, 16_385, 32_768, 32_769, 40_000, 40_001,
              52_345, 65_536, 65_537, 69_999, N):
        splits = {"train": prefix(train, n), "val": prefix(val, int(np.searchsorted(
            val.steps, train.steps[n - 1], side="right")))}
        fresh = as_json(diagnostics.diagnose(splits))
        assert as_json(diagnoser.update(splits)) == fresh, n
        kinds |= {f["kind"] for f in fresh}
    # The data exercises (nearly) every check, so equality means something.
    assert {"non_finite", "zero", "spike", "total_mismatch", "weight_change", "stalled",
            "overfitting"} <= kinds, kinds


def test_an_update_reads_only_the_rows_after_the_last_full_bucket():
    train, _ = long_run(2)
    diagnoser = diagnostics.Diagnoser()
    diagnoser.update({"train": prefix(train, 60_000)})
    state = diagnoser._splits["train"].series["box"]
    assert state.k == 32 and state.done == state.row == 60_000  # 1,875 full buckets
    before = state.level.copy()
    diagnoser.update({"train": prefix(train, 60_100)})
    assert state.scan_row == 60_100 and state.row == 60_096
    assert np.array_equal(state.level[:len(before)], before)  # full buckets were not re-read
    assert len(state.level) == len(before) + 3


def test_changed_rows_start_the_split_over():
    train, _ = long_run(3)
    diagnoser = diagnostics.Diagnoser()
    diagnoser.update({"train": prefix(train, 50_000)})
    # A restart from a checkpoint re-logged steps 40,000–49,999 with other values.
    values = {c: a.copy() for c, a in train.values.items()}
    values["cls"][40_000:50_000] *= 3
    restarted = diagnostics.SplitData(train.steps, train.components, values, train.weights,
                                      train.present, train.total, train.total_present)
    splits = {"train": prefix(restarted, 55_000)}
    assert as_json(diagnoser.update(splits)) == as_json(diagnostics.diagnose(splits))


def test_a_new_component_and_a_dropped_split_are_handled():
    train, val = long_run(4)
    diagnoser = diagnostics.Diagnoser()
    diagnoser.update({"train": prefix(train, 30_000), "val": prefix(val, 15)})
    grown = prefix(train, 40_000)
    grown.components.append("aux")
    grown.values["aux"] = np.where(np.arange(40_000) >= 30_000, 0.5, np.nan)
    grown.weights["aux"] = np.where(np.arange(40_000) >= 30_000, 1.0, np.nan)
    grown.present["aux"] = np.arange(40_000) >= 30_000
    splits = {"train": grown}
    assert as_json(diagnoser.update(splits)) == as_json(diagnostics.diagnose(splits))
    assert set(diagnoser._splits) == {"train"}
