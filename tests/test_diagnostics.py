"""The diagnostics engine: quality on scenarios with known truth, properties, attribution, CLI."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scenarios
import tensorboard_plugin_detloss as detloss
from tensorboard_plugin_detloss import cli, diagnostics

HEALTHY_RUNS = 60
INJECTED_RUNS = 20


def test_no_warning_or_error_on_healthy_runs():
    alarms = []
    for seed in range(HEALTHY_RUNS):
        splits, _ = scenarios.healthy(seed)
        alarms += [(seed, f.kind, f.message) for f in diagnostics.diagnose(splits)
                   if f.severity != "info"]
    assert alarms == []


@pytest.mark.parametrize("kind", scenarios.INJECTED_KINDS)
def test_injected_failures_are_found(kind):
    missed = []
    for seed in range(INJECTED_RUNS):
        splits, truth = scenarios.injected(kind, seed)
        if not scenarios.detected(diagnostics.diagnose(splits), truth):
            missed.append(seed)
    recall = 1 - len(missed) / INJECTED_RUNS
    assert recall >= 0.95, (kind, missed)


def test_findings_explain_themselves():
    splits, truth = scenarios.injected("overfitting", 3)
    [f] = [f for f in diagnostics.diagnose(splits) if f.kind == "overfitting"]
    assert f.severity == "warning" and f.split == "val" and f.component == truth["component"]
    assert "passed its minimum at step" in f.message and "%" in f.message
    assert {"onset_step", "rise_pct", "train_change_pct"} <= set(f.evidence)
    assert f.evidence["rise_pct"] > 0 and f.evidence["train_change_pct"] < 0
    json.dumps(f.to_json())


def test_single_val_point_and_empty_series_are_fine():
    splits = {
        "train": diagnostics.SplitData.from_arrays(np.arange(100), {"a": np.linspace(2, 1, 100)}),
        "val": diagnostics.SplitData.from_arrays([99], {"a": [1.2]}),
        "test": diagnostics.SplitData.from_arrays([], {"a": []}),
    }
    assert [f for f in diagnostics.diagnose(splits) if f.severity != "info"] == []


def test_late_switched_on_term_is_info_not_warning():
    steps = np.arange(1000)
    l1 = np.where(steps >= 700, 0.5, 0.0)
    splits = {"train": diagnostics.SplitData.from_arrays(
        steps, {"box": np.linspace(2, 1, 1000), "l1": l1})}
    [f] = [f for f in diagnostics.diagnose(splits) if f.kind == "zero"]
    assert f.severity == "info" and f.component == "l1" and "until step 700" in f.message


def test_component_logged_only_late_or_early_is_info_naming_where():
    n = 1000
    steps = np.arange(0, 10 * n, 10)
    present = {"box": np.ones(n, bool), "l1": steps >= 8500, "obj": steps < 4000,
               "noise": steps >= 50}  # absent for 5 rows only: not a finding
    values = {c: np.full(n, 0.5) for c in present}
    values["box"] = np.linspace(2, 1, n)
    weights = {c: np.ones(n) for c in present}
    weights["l1"] = np.full(n, 2.0)
    data = diagnostics.SplitData(steps, list(present), values, weights, present, None, None)
    found = {f.component: f for f in diagnostics.diagnose({"train": data}) if f.kind == "zero"}
    assert set(found) == {"l1", "obj"}
    late, early = found["l1"], found["obj"]
    assert late.severity == early.severity == "info"
    assert (late.start_step, late.end_step) == (0, 8490)  # the stretch without it
    assert "first logged at step 8,500, after 850 logged steps without it" in late.message
    assert "contribution of 1 (weight 2 × value 0.5)" in late.message
    assert late.evidence["first_logged_step"] == 8500 and late.evidence["absent_points"] == 850
    assert (early.start_step, early.end_step) == (4000, 9990)
    assert "last logged at step 3,990; the 600 logged steps after it have none" in early.message


# --- properties ---------------------------------------------------------------------------------

special = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1e-300, -5.0, 1e300])
number = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64), special)


@st.composite
def breakdowns(draw):
    n = draw(st.integers(0, 60))
    steps = np.array(sorted(draw(st.sets(st.integers(0, 10**7), min_size=n, max_size=n))),
                     np.int64)
    names = draw(st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=4, unique=True))
    values, weights, present = {}, {}, {}
    for c in names:
        values[c] = np.array(draw(st.lists(number, min_size=n, max_size=n)), np.float64)
        weights[c] = np.array(draw(st.lists(number, min_size=n, max_size=n)), np.float64)
        present[c] = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    total = total_present = None
    if draw(st.booleans()):
        total = np.array(draw(st.lists(number, min_size=n, max_size=n)), np.float64)
        total_present = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    return diagnostics.SplitData(steps, names, values, weights, present, total, total_present)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["train", "val", "eval", "x"]), breakdowns(), min_size=1))
def test_engine_never_raises_and_references_real_steps_and_components(splits):
    findings = diagnostics.diagnose(splits)
    for f in findings:
        assert f.kind in diagnostics.KINDS and f.severity in diagnostics.SEVERITIES
        data = splits[f.split]
        assert f.component is None or f.component in data.components
        assert f.start_step in data.steps and f.end_step in data.steps
        assert f.start_step <= f.end_step
        json.dumps(f.to_json())


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 30).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.lists(finite, min_size=n, max_size=n), min_size=1, max_size=5),
    st.lists(st.lists(finite, min_size=n, max_size=n), min_size=1, max_size=5),
    st.data())))
def test_attribution_sums_to_the_change_of_the_total(args):
    n, value_rows, weight_rows, data = args
    k = min(len(value_rows), len(weight_rows))
    names = ["c%d" % i for i in range(k)]
    split = diagnostics.SplitData(
        np.arange(n) * 10, names,
        {c: np.array(value_rows[i]) for i, c in enumerate(names)},
        {c: np.array(weight_rows[i]) for i, c in enumerate(names)},
        {c: np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
         for c in names})
    a = data.draw(st.integers(0, n - 2))
    b = data.draw(st.integers(a + 1, n - 1))
    result = diagnostics.attribution(split, a * 10, b * 10)
    assert (result["from_step"], result["to_step"]) == (a * 10, b * 10)
    parts = math.fsum(p["delta"] for p in result["parts"])
    # Exact in real arithmetic; in floating point, up to rounding of the largest operand.
    scale = max([1.0] + [abs(p[f]) for p in result["parts"]
                         for f in ("from", "to", "value_effect", "weight_effect")])
    assert abs(parts - result["delta"]) <= 1e-12 * scale * (len(result["parts"]) + 1)
    for p in result["parts"]:
        assert p["delta"] == p["value_effect"] + p["weight_effect"]


def test_attribution_names_value_and_weight_effects():
    split = diagnostics.SplitData.from_arrays(
        [0, 10], {"box": [1.0, 0.5], "cls": [2.0, 2.0]},
        {"box": np.array([2.0, 2.0]), "cls": np.array([1.0, 3.0])})
    result = diagnostics.attribution(split, 0, 10)
    assert result["delta"] == (2 * 0.5 + 3 * 2.0) - (2 * 1.0 + 1 * 2.0)
    by = {p["component"]: p for p in result["parts"]}
    assert by["box"]["value_effect"] == -1.0 and by["box"]["weight_effect"] == 0.0
    assert by["cls"]["value_effect"] == 0.0 and by["cls"]["weight_effect"] == 4.0
    assert [p["component"] for p in result["parts"]] == ["cls", "box"]
    summary = diagnostics.summarize_attribution(result)
    assert summary.startswith("total +3 from step 0 to 10: cls +4 (133%), box −1 (−33%)")
    with pytest.raises(ValueError, match="no two logged steps"):
        diagnostics.attribution(split, 3, 7)


# --- detloss check ------------------------------------------------------------------------------


def _write_runs(logdir):
    rng = np.random.default_rng(0)
    with detloss.summary.FileWriter(os.path.join(logdir, "healthy")) as w:
        for step in range(300):
            detloss.summary.write({"box": 1 + np.exp(-step / 50) + 0.01 * rng.random(),
                                   "cls": 2 + np.exp(-step / 80) + 0.01 * rng.random()},
                                  step=step, writer=w)
    with detloss.summary.FileWriter(os.path.join(logdir, "broken")) as w:
        for step in range(300):
            detloss.summary.write({"box": float("nan") if step >= 200 else 1.0, "cls": 0.0},
                                  step=step, writer=w)


def _check(*args):
    proc = subprocess.run([sys.executable, "-m", "tensorboard_plugin_detloss", "check", *args],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    return proc.returncode, proc.stdout, proc.stderr


def test_check_cli_reports_exit_codes_and_damaged_files(tmp_path):
    logdir = str(tmp_path / "logs")
    _write_runs(logdir)
    with open(os.path.join(logdir, "healthy", "events.out.tfevents.1.garbage"), "wb") as f:
        f.write(b"not an event file")
    code, out, _ = _check(logdir)
    assert code == 1
    assert "ERROR   non_finite     box [train] steps 200–299" in out
    assert "WARNING zero           cls [train]" in out
    assert "healthy (loss; train): no findings" in out
    assert "skipped %s" % os.path.join(logdir, "healthy", "events.out.tfevents.1.garbage") in out

    code, out, _ = _check(logdir, "--format", "json", "--fail-on", "error")
    report = json.loads(out)
    assert code == 1
    assert {r["run"] for r in report["runs"]} == {"healthy", "broken"}
    assert report["skipped"][0]["problem"].startswith("corrupt record length at byte 0")

    healthy_only = str(tmp_path / "healthy_only")
    os.rename(os.path.join(logdir, "healthy"), os.path.join(tmp_path, "h"))
    os.makedirs(healthy_only)
    os.rename(os.path.join(tmp_path, "h"), os.path.join(healthy_only, "healthy"))
    assert _check(healthy_only)[0] == 0

    code, _, err = _check(str(tmp_path / "missing"))
    assert code == 2 and "is not a directory" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _check(str(empty))
    assert code == 2 and "no loss breakdown found" in err


def test_scan_names_truncated_and_corrupt_records(tmp_path):
    with detloss.summary.FileWriter(str(tmp_path)) as w:
        for step in range(20):
            detloss.summary.write({"a": 1.0}, step=step, writer=w)
    data = open(w.path, "rb").read()
    truncated = tmp_path / "events.out.tfevents.2.t"
    truncated.write_bytes(data[: len(data) - 7])
    assert "truncated record" in cli.scan_file(str(truncated))
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    corrupt = tmp_path / "events.out.tfevents.3.c"
    corrupt.write_bytes(bytes(flipped))
    assert "corrupt record" in cli.scan_file(str(corrupt))
    assert cli.scan_file(w.path) is None
