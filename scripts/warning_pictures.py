"""Regenerates docs/warnings/<kind>.svg: a small picture of each warning, for the README.

    python scripts/warning_pictures.py

Each picture is one injected scenario from tests/scenarios.py with the engine's own finding:
the series the warning is about (grey: its twin or reference), the warned step range shaded.
"""

import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import scenarios  # noqa: E402

from tensorboard_plugin_detloss import diagnostics  # noqa: E402

W, H, PAD = 240, 72, 4
COLOR = {"info": "#0072B2", "warning": "#E69F00", "error": "#D55E00"}


def _series_for(kind, splits, finding):
    """[(steps, values, colour)] to draw for a finding; the first is the subject."""
    c = finding.component
    train, val = splits["train"], splits["val"]
    if kind == "overfitting":
        return [(val.steps, val.values[c], "#333"), (train.steps, train.values[c], "#bbb")]
    if kind == "dominant":
        data = splits[finding.split]
        contrib = {k: np.maximum(data.values[k] * data.weights[k], 0) for k in data.components}
        share = contrib[c] / sum(contrib.values())
        return [(data.steps, share, "#333")]
    if kind == "total_mismatch":
        summed = sum(train.values[k] * train.weights[k] for k in train.components)
        return [(train.steps, train.total, "#333"), (train.steps, summed, "#bbb")]
    if kind == "weight_change":
        return [(train.steps, train.values[c] * train.weights[c], "#333")]
    data = splits[finding.split]
    others = [(data.steps, data.values[k], "#ccc") for k in data.components if k != c]
    return [(data.steps, data.values[c], "#333")] + (others if kind == "stalled" else [])


def _path(steps, values, x0, x1, y0, y1):
    keep = np.isfinite(values)
    if len(steps) > 400:  # a picture needs a few hundred points: keep each chunk's extremes
        chunks = np.array_split(np.arange(len(steps)), 200)
        filled = np.where(keep, values, np.nan)
        idx = sorted({int(ch[0]) for ch in chunks} | {
            int(ch[i]) for ch in chunks if np.isfinite(filled[ch]).any()
            for i in (np.nanargmin(filled[ch]), np.nanargmax(filled[ch]))})
        steps, values, keep = steps[idx], values[idx], keep[idx]
    sx = lambda s: PAD + (W - 2 * PAD) * (s - x0) / max(x1 - x0, 1)  # noqa: E731
    sy = lambda v: H - PAD - (H - 2 * PAD) * (v - y0) / max(y1 - y0, 1e-12)  # noqa: E731
    parts, pen = [], "M"
    for s, v, k in zip(steps, values, keep):
        if not k:
            pen = "M"
            continue
        parts.append("%s%.1f %.1f" % (pen, sx(s), sy(v)))
        pen = "L"
    return " ".join(parts), sx


def picture(kind, seed=1):
    splits, truth = scenarios.injected(kind, seed)
    findings = [f for f in diagnostics.diagnose(splits) if f.kind == kind]
    finding = findings[0]
    series = _series_for(kind, splits, finding)
    x0 = min(int(s[0]) for s, _, _ in series)
    x1 = max(int(s[-1]) for s, _, _ in series)
    finite = np.concatenate([v[np.isfinite(v)] for _, v, _ in series])
    y0, y1 = np.percentile(finite, 0.5), np.percentile(finite, 99.9)
    if kind == "spike":
        y1 = finite.max()
    elements = []
    _, sx = _path(series[0][0], series[0][1], x0, x1, y0, y1)
    a, b = sx(finding.start_step), sx(max(finding.end_step, finding.start_step + 1))
    elements.append('<rect x="%.1f" y="0" width="%.1f" height="%d" fill="%s" opacity="0.18"/>'
                    % (a, max(b - a, 2.0), H, COLOR[finding.severity]))
    for steps, values, colour in reversed(series):
        d, _ = _path(steps, np.clip(values, y0, y1) if kind != "non_finite" else values,
                     x0, x1, y0, y1)
        elements.append('<path d="%s" fill="none" stroke="%s" stroke-width="1.2"/>' % (d, colour))
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">'
           '<rect width="%d" height="%d" fill="#fff" stroke="#ddd"/>%s</svg>\n'
           % (W, H, W, H, W, H, "".join(elements)))
    out = os.path.join(ROOT, "docs", "warnings", "%s.svg" % kind)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(svg)
    return out


def main():
    for kind in scenarios.INJECTED_KINDS:
        print("wrote", picture(kind))


if __name__ == "__main__":
    main()
