"""Integrations, each run for real on a short training: Keras `fit`, PyTorch Lightning, DDP on
two gloo processes, remote (fsspec) logdirs, and the README's two quick starts as written. Each
reads back what it wrote through the same reader the tab uses (TensorBoard's multiplexer data
provider, every point kept)."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from tensorboard import context
from tensorboard.backend.event_processing import data_provider as mux_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer as mux

import tensorboard_plugin_detloss as detloss
from tensorboard_plugin_detloss import cli, reader

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def read_all(logdir):
    """{(run, name, split): Breakdown} of a local logdir, loaded as `detloss check` loads it:
    every point kept, framework scalars too (a plain multiplexer keeps 500 per tag)."""
    provider, _ = cli.load(logdir)
    ctx = context.RequestContext()
    series = reader.list_series(provider, ctx, "")
    return {tuple(k): b for k, b in reader.read_breakdowns(provider, ctx, "", list(series),
                                                           series).items()}


def run_example(script, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=EXAMPLES)
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_keras_callback_logs_outputs_with_compile_weights(tmp_path):
    log_dir = str(tmp_path / "keras_run")
    run_example("keras_multi_output.py", log_dir, "--epochs", "2")
    # Keras' own callback wrote beside us, in the same train/validation layout.
    assert sorted(os.listdir(log_dir)) == ["train", "validation"]
    # train/ and validation/ read as one logical run with two splits, like imported Keras logs.
    data = read_all(str(tmp_path))
    assert set(data) == {("keras_run", "loss", "train"), ("keras_run", "loss", "val")}
    train = data[("keras_run", "loss", "train")]
    val = data[("keras_run", "loss", "val")]
    assert train.components == ["box", "cls"] or train.components == ["cls", "box"]
    # update_freq="batch": every optimizer step (512 samples / 32 = 16 per epoch).
    assert train.steps.tolist() == list(range(1, 33))
    assert set(train.weights["box"].tolist()) == {5.0} and set(train.weights["cls"].tolist()) == {1.0}
    # The logged total is Keras' loss = Σ weight × per-output loss (no regularisation here).
    summed = 5.0 * train.values["box"] + 1.0 * train.values["cls"]
    np.testing.assert_allclose(train.total, summed, rtol=1e-5)
    assert val.steps.tolist() == [16, 32]
    np.testing.assert_allclose(val.total, 5.0 * val.values["box"] + val.values["cls"], rtol=1e-5)


def test_keras_callback_refuses_weights_that_contradict_the_model():
    proc = subprocess.run([sys.executable, "-c", """
import os, sys
sys.path.insert(0, %r)
import numpy as np, keras_multi_output as ex, tensorboard_plugin_detloss as detloss
m = ex.build()
x, y = ex.synthetic(32, np.random.default_rng(0))
try:
    m.fit(x, y, epochs=1, verbose=0, callbacks=[detloss.keras.LossBreakdown(
        %r, loss_weights={"cls": 1.0, "box": 2.0})])
except ValueError as e:
    print("ValueError:", e)
""" % (EXAMPLES, "/tmp/unused-detloss-keras")], capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert "loss_weights differ from the model's compile-time loss_weights: box: 2.0 vs 5.0" \
        in proc.stdout, proc.stderr[-2000:]


def test_lightning_callback_logs_train_steps_and_epoch_means(tmp_path):
    sys.path.insert(0, EXAMPLES)
    try:
        import lightning_detector
    finally:
        sys.path.remove(EXAMPLES)
    trainer = lightning_detector.train(str(tmp_path / "lt"), epochs=2)
    data = read_all(str(tmp_path / "lt"))
    run = os.path.relpath(trainer.log_dir, str(tmp_path / "lt"))
    train = data[(run, "loss", "train")]
    val = data[(run, "loss", "val")]
    # 256 samples / 16 = 16 steps per epoch, logged every 2 optimizer steps, at the global
    # step (the optimizer steps done, counting this batch's).
    assert train.steps.tolist() == list(range(2, 33, 2))
    assert set(train.weights["box"].tolist()) == {7.5}
    np.testing.assert_allclose(train.total, 7.5 * train.values["box"] + 0.5 * train.values["cls"],
                               rtol=1e-6)
    # Validation: one point per epoch, at the global step after it (no sanity-check point).
    assert val.steps.tolist() == [16, 32]
    np.testing.assert_allclose(val.total, 7.5 * val.values["box"] + 0.5 * val.values["cls"],
                               rtol=1e-6)


_DDP = """
import os, sys, tempfile
import torch, torch.distributed as dist, torch.multiprocessing as mp
import tensorboard_plugin_detloss as detloss

def worker(rank, world, logdir, init):
    dist.init_process_group("gloo", init_method="file://" + init, rank=rank, world_size=world)
    writer = detloss.summary.FileWriter(logdir) if rank == 0 else None
    for step in range(5):
        box = torch.tensor(1.0 + rank + step)       # rank 0: 1+s, rank 1: 2+s -> mean 1.5+s
        cls = torch.tensor(2.0 * rank)              # mean 1.0
        wrote = detloss.distributed.write({"box": box, "cls": cls}, step=step,
                                          weights={"box": 2.0}, total=2 * box + cls,
                                          writer=writer)
        assert wrote == (rank == 0)
        detloss.distributed.write({"box": box, "cls": cls}, step=step, split="local",
                                  writer=writer, reduce=None)
    if writer: writer.close()
    dist.destroy_process_group()

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(worker, args=(2, sys.argv[1], os.path.join(tmp, "init")), nprocs=2)
"""


def test_ddp_rank_zero_writes_the_mean_across_ranks(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(_DDP)
    logdir = str(tmp_path / "ddp")
    proc = subprocess.run([sys.executable, str(script), logdir], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(os.listdir(logdir)) == 1  # one writer: rank 0
    data = read_all(os.path.dirname(logdir))
    train = data[("ddp", "loss", "train")]
    assert train.values["box"].tolist() == [1.5, 2.5, 3.5, 4.5, 5.5]
    assert train.values["cls"].tolist() == [1.0] * 5
    assert train.total.tolist() == [2 * b + 1.0 for b in [1.5, 2.5, 3.5, 4.5, 5.5]]
    local = data[("ddp", "loss", "local")]
    assert local.values["box"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]  # rank 0's own values


def test_remote_logdir_through_fsspec(tmp_path):
    import fsspec  # requirements-dev.txt: a missing package must fail, not skip
    url = "memory://detloss-test/logs"
    with detloss.summary.FileWriter(url + "/run_a") as w:
        for step in range(50):
            detloss.summary.write({"box": step / 10, "cls": 0.5}, step=step,
                                  weights={"box": 7.5}, writer=w)
            if step == 24:
                w.flush()  # appending after a flush
    memory = fsspec.filesystem("memory")
    [remote] = memory.ls("/detloss-test/logs/run_a", detail=False)
    # TensorFlow's file layer (used by the multiplexer when TF is installed) has no memory://,
    # so copy the bytes out and read them the usual way.
    local = tmp_path / "logs" / "run_a"
    local.mkdir(parents=True)
    (local / os.path.basename(remote)).write_bytes(memory.cat_file(remote))
    breakdown = read_all(str(tmp_path / "logs"))[("run_a", "loss", "train")]
    assert breakdown.steps.tolist() == list(range(50))
    assert breakdown.values["box"].tolist() == [s / 10 for s in range(50)]
    assert set(breakdown.weights["box"].tolist()) == {7.5}


def test_file_url_logdir_is_read_by_tensorboard_as_written(tmp_path):
    with detloss.summary.FileWriter("file://%s/run_b" % tmp_path) as w:
        for step in range(10):
            detloss.summary.write({"box": float(step)}, step=step, writer=w)
    assert read_all(str(tmp_path))[("run_b", "loss", "train")].values["box"].tolist() == \
        [float(s) for s in range(10)]


def test_integrations_are_imported_lazily():
    proc = subprocess.run([sys.executable, "-c",
                           "import sys, tensorboard_plugin_detloss as d; "
                           "print(sorted(m for m in ('tensorflow', 'keras', 'torch', 'lightning') "
                           "if m in sys.modules)); d.distributed; print('torch' in sys.modules)"],
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.split("\n")[:2] == ["[]", "True"], proc.stderr


def test_custom_tf_loss_logs_in_graph_mode(tmp_path):
    run_example("tf_custom_yolo_loss.py", str(tmp_path / "yolo_tf"), "--steps", "12")
    train = read_all(str(tmp_path))[("yolo_tf", "loss", "train")]
    assert train.components == ["classification", "coordinates", "confidence"]
    # Inside tf.function, at the optimizer's iteration before each update: 0 … 11.
    assert train.steps.tolist() == list(range(12))
    assert set(train.weights["coordinates"].tolist()) == {5.0}
    np.testing.assert_allclose(train.total, train.summed_total(), rtol=1e-5)


def test_plain_pytorch_loop_takes_the_loss_dict(tmp_path):
    run_example("pytorch_loop.py", str(tmp_path / "torch_loop"))
    data = read_all(str(tmp_path))
    train = data[("torch_loop", "loss", "train")]
    assert train.components == ["loss_objectness", "loss_rpn_box_reg", "loss_classifier",
                                "loss_box_reg"]
    assert train.steps.tolist() == list(range(90))
    np.testing.assert_allclose(train.total, train.summed_total(), rtol=1e-6)
    assert data[("torch_loop", "loss", "val")].steps.tolist() == [29, 59, 89]


def _ultralytics_python():
    """The interpreter of the Ultralytics environment (torch 2.14.1 + torchvision + ultralytics,
    about 5 GB, built by scripts/test.sh in .venv-ultralytics, or $DETLOSS_ULTRALYTICS_PYTHON)."""
    python = os.environ.get("DETLOSS_ULTRALYTICS_PYTHON") or os.path.join(
        ROOT, ".venv-ultralytics", "bin", "python")
    if not os.path.exists(python):
        pytest.fail("no Ultralytics environment at %s: run scripts/test.sh (it builds it) or set "
                    "DETLOSS_ULTRALYTICS_PYTHON" % python)
    return python


def test_ultralytics_callbacks_log_raw_components_with_actual_gains(tmp_path):
    python = _ultralytics_python()
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["PYTHONPATH"] = ROOT
    proc = subprocess.run([python, os.path.join(EXAMPLES, "ultralytics_tiny.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    run_dir = str(tmp_path / "runs")
    data = read_all(run_dir)
    train, val = data[("train", "loss", "train")], data[("train", "loss", "val")]
    assert train.components == ["box", "cls", "dfl"]
    assert train.steps.tolist() == [1, 2] and val.steps.tolist() == [1, 2]
    for b in (train, val):
        assert {c: set(b.weights[c].tolist()) for c in b.components} == {
            "box": {7.5}, "cls": {0.5}, "dfl": {1.5}}
    # Ultralytics' own scalars, in the same directory, are the weighted values: ours × gain
    # (theirs rounded to 5 decimals by label_loss_items; ours are not rounded).
    multiplexer = mux.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(run_dir)
    multiplexer.Reload()
    scalars = mux_provider.MultiplexerDataProvider(multiplexer, run_dir).read_scalars(
        context.RequestContext(), experiment_id="", plugin_name="scalars", downsample=1000)
    for split, b in (("train", train), ("val", val)):
        for c, gain in (("box", 7.5), ("cls", 0.5), ("dfl", 1.5)):
            theirs = scalars["train"]["%s/%s_loss" % (split, c)]
            assert [d.step for d in theirs] == b.steps.tolist()
            np.testing.assert_allclose(b.values[c] * gain, [d.value for d in theirs],
                                       rtol=0, atol=5.1e-6)

    # The same run with Ultralytics' TensorBoard logging off (its default) has only its
    # results.csv: `detloss import` turns that into the scalars Ultralytics writes when it is on.
    csv_only = tmp_path / "csv_only" / "train"
    csv_only.mkdir(parents=True)
    shutil.copy(os.path.join(run_dir, "train", "results.csv"), csv_only / "results.csv")
    assert cli.main(["import", str(tmp_path / "csv_only")]) == cli.EXIT_CLEAN
    from_csv = read_all(str(tmp_path / "csv_only"))
    assert set(from_csv) == {("train", "loss", "train"), ("train", "loss", "val")}
    for split in ("train", "val"):
        b = from_csv[("train", "loss", split)]
        assert b.components == ["box_loss", "cls_loss", "dfl_loss"]
        for c, gain in (("box", 7.5), ("cls", 0.5), ("dfl", 1.5)):
            theirs = scalars["train"]["%s/%s_loss" % (split, c)]
            assert b.steps.tolist() == [d.step for d in theirs]
            # The CSV has 6 significant digits (%.6g), the scalars 5 decimals.
            np.testing.assert_allclose(b.values["%s_loss" % c], [d.value for d in theirs],
                                       rtol=1e-5, atol=5.1e-6)


def readme_block(heading):
    """The first ```python block after `heading` in README.md: the code a newcomer copies."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("```python\n", text.index("\n%s\n" % heading)) + len("```python\n")
    return text[start:text.index("```", start)]


def run_snippet(cwd, prelude, snippet, postlude):
    """Runs README code with the names it leaves to the user (model, loader…) defined before
    it and what a script ends with after it, in a fresh interpreter (TF and torch apart)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", prelude + "\n" + snippet + "\n" + postlude],
                          capture_output=True, text=True, timeout=600, env=env, cwd=str(cwd))
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_readme_pytorch_quick_start_runs_as_written(tmp_path):
    prelude = """
import torch
torch.manual_seed(0)
model = torch.nn.Linear(4, 3)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
loader = [torch.randn(8, 4) for _ in range(20)]
criterion = lambda out, batch: tuple(out.pow(2).mean(0))  # box, cls, dfl: 0-d tensors
gains = {"box": 7.5, "cls": 0.5, "dfl": 1.5}
val_losses = {"box": 0.25, "cls": 1.5, "dfl": 0.75}
"""
    run_snippet(tmp_path, prelude, readme_block("### PyTorch"), "writer.close()")
    data = read_all(str(tmp_path / "runs"))
    assert set(data) == {("exp1", "loss", "train"), ("exp1", "loss", "val")}
    train, val = data[("exp1", "loss", "train")], data[("exp1", "loss", "val")]
    assert train.components == ["box", "cls", "dfl"]
    assert train.steps.tolist() == list(range(20))
    assert {c: set(train.weights[c].tolist()) for c in train.components} == {
        "box": {7.5}, "cls": {0.5}, "dfl": {1.5}}
    np.testing.assert_allclose(train.total, train.summed_total(), rtol=1e-6)
    assert val.steps.tolist() == [19]
    assert {c: val.values[c].tolist() for c in val.components} == {
        "box": [0.25], "cls": [1.5], "dfl": [0.75]}
    # No total given: none is stored, and the tab draws the weighted sum.
    assert val.total is None and val.summed_total().tolist() == [7.5 * 0.25 + 0.5 * 1.5 + 1.5 * 0.75]


def test_readme_tensorflow_quick_start_runs_as_written(tmp_path):
    prelude = """
import tensorflow as tf
tf.random.set_seed(0)
model = tf.keras.Sequential([tf.keras.Input([4]), tf.keras.layers.Dense(2)])
optimizer = tf.keras.optimizers.SGD(0.01)
dataset = [(tf.random.normal([8, 4]), tf.random.normal([8])) for _ in range(12)]
def model_losses(out, targets):  # cls, box
    return (tf.reduce_mean(tf.square(out[:, 0] - targets)),
            tf.reduce_mean(tf.abs(out[:, 1] - targets)))
"""
    run_snippet(tmp_path, prelude, readme_block("### TensorFlow / Keras"), "writer.close()")
    data = read_all(str(tmp_path / "logs"))
    assert set(data) == {("exp1/train", "loss", "train")}
    train = data[("exp1/train", "loss", "train")]
    assert sorted(train.components) == ["box", "cls"]
    assert train.steps.tolist() == list(range(12))  # inside tf.function, one event per step
    assert {c: set(train.weights[c].tolist()) for c in train.components} == {
        "box": {2.0}, "cls": {1.0}}
    np.testing.assert_allclose(train.total, train.summed_total(), rtol=1e-5)
    assert np.isfinite(train.total).all() and (train.total > 0).all()
