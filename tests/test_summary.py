"""The writer API: validation, exact encoding, layouts, and what importing costs."""

import glob
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.compat.proto import summary_pb2

import tensorboard_plugin_detloss as detloss
from tensorboard_plugin_detloss import metadata


def read_events(logdir):
    """[(step, tag, Layout or None, float64 array)] of every detloss step in `logdir`
    (block records expanded into their rows)."""
    out = []
    layouts = {}
    for path in sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*"))):
        for event in event_file_loader.EventFileLoader(path).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == metadata.PLUGIN_NAME:
                    layouts.setdefault(value.tag, metadata.parse_plugin_metadata(
                        value.metadata.plugin_data.content))
                layout = layouts.get(value.tag)
                if layout is not None and layout.overview:
                    continue  # a series' overview (test_overview.py), not more steps
                array = np.frombuffer(value.tensor.tensor_content, "<f8")
                if layout is not None and layout.block:
                    rows = array.reshape(-1, 2 + layout.tensor_length)
                    assert int(rows[0, 0]) == event.step  # the event carries the first step
                    out += [(int(r[0]), value.tag, layout, r[2:]) for r in rows]
                else:
                    out.append((event.step, value.tag, layout, array))
    return out


@pytest.fixture
def writer(tmp_path):
    with detloss.summary.FileWriter(str(tmp_path)) as w:
        yield w


BAD_CALLS = [
    (dict(components={}), ValueError, "components is empty"),
    (dict(components=[("box", 1.0)]), TypeError, "components must be a dict"),
    (dict(components={1: 1.0}), TypeError, "name 1 is a int"),
    (dict(components={"": 1.0}), ValueError, "component name is empty"),
    (dict(components={"box": "0.5"}), TypeError, "components['box'] must be a number"),
    (dict(components={"box": None}), TypeError, "components['box'] must be a number"),
    (dict(components={"box": True}), TypeError, "components['box'] must be a number"),
    (dict(components={"box": np.ones(3)}), TypeError, "components['box'] must be a number"),
    (dict(components={"box": 1.0}, weights={"cls": 2.0}), ValueError, "weights: 'cls' is not one"),
    (dict(components={"box": 1.0}, weights={"box": "x"}), TypeError, "weights['box']"),
    (dict(components={"box": 1.0}, total="x"), TypeError, "total['total']"),
    (dict(components={"box": 1.0}, step=-1), ValueError, "step must be >= 0"),
    (dict(components={"box": 1.0}, step=1.5), TypeError, "step must be an int"),
    (dict(components={"box": 1.0}, step=2.0), TypeError, "step must be an int"),
    (dict(components={"box": 1.0}, step=None), ValueError, "step is required"),
    (dict(components={"box": 1.0}, split=""), ValueError, "split must be a non-empty"),
    (dict(components={"box": 1.0}, split=3), TypeError, "split must be a str"),
    (dict(components={"box": 1.0}, name=""), ValueError, "name must be a non-empty"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD_CALLS)
def test_bad_input_raises_naming_it_and_writes_nothing(writer, kwargs, error, message):
    detloss.summary.write({"box": 1.0}, step=0, writer=writer)
    writer.flush()
    size = os.path.getsize(writer.path)
    call = dict(step=1, writer=writer)
    call.update(kwargs)
    with pytest.raises(error, match=message.replace("[", r"\[").replace("(", r"\(")):
        detloss.summary.write(**call)
    writer.flush()
    assert os.path.getsize(writer.path) == size
    detloss.summary.write({"box": 2.0}, step=2, writer=writer)  # the writer still works
    writer.close()
    assert [e[0] for e in read_events(writer.logdir)] == [0, 2]


def test_values_weights_total_round_trip_exactly(writer):
    detloss.summary.write({"box": np.float32(0.1), "cls": 1 / 3, "n": 7}, step=5,
                          weights={"box": 7.5}, total=2.5, writer=writer)
    writer.close()
    [(step, tag, layout, array)] = read_events(writer.logdir)
    assert step == 5
    assert layout.components == ("box", "cls", "n") and layout.has_total
    assert tag == layout.tag and tag.startswith("detloss/loss/train/")
    assert array.tolist() == [float(np.float32(0.1)), 1 / 3, 7.0, 7.5, 1.0, 1.0, 2.5]


def test_non_finite_values_are_data(writer):
    detloss.summary.write({"a": float("nan"), "b": float("inf"), "c": -math.inf}, step=0,
                          writer=writer)
    writer.close()
    [(_, _, _, array)] = read_events(writer.logdir)
    assert math.isnan(array[0]) and array[1] == math.inf and array[2] == -math.inf


def test_reordered_components_stay_one_series_and_new_sets_get_new_tags(writer):
    detloss.summary.write({"box": 1.0, "cls": 2.0}, step=0, writer=writer)
    detloss.summary.write({"cls": 4.0, "box": 3.0}, step=1, writer=writer)
    detloss.summary.write({"box": 5.0, "cls": 6.0, "l1": 7.0}, step=2, writer=writer)
    detloss.summary.write({"box": 5.0, "cls": 6.0}, step=3, total=11.0, writer=writer)
    writer.close()
    events = read_events(writer.logdir)
    assert events[0][1] == events[1][1]
    assert events[1][3].tolist() == [3.0, 4.0, 1.0, 1.0]  # stored in first-seen order
    assert len({e[1] for e in events}) == 3
    assert events[2][2].components == ("box", "cls", "l1")


def test_metadata_is_written_once_per_tag_per_file(writer):
    for step in range(3):
        detloss.summary.write({"box": 1.0}, step=step, writer=writer)
        writer.flush()  # one block record per flush
    writer.close()
    with_metadata = []
    for path in glob.glob(os.path.join(writer.logdir, "events.*")):
        for event in event_file_loader.EventFileLoader(path).Load():
            for value in event.summary.value:
                with_metadata.append(value.HasField("metadata"))
    assert with_metadata == [True, False, False]


def test_tag_escaping_is_injective():
    a = metadata.make_tag("a/b", "c", ("x",), False)
    b = metadata.make_tag("a", "b/c", ("x",), False)
    assert a != b and a.startswith("detloss/a%2Fb/c/")


def test_pb_needs_no_writer_and_describes_itself():
    summary = detloss.summary.pb({"box": 1.0}, split="val", name="aux", weights={"box": 2.0})
    assert isinstance(summary, summary_pb2.Summary)
    [value] = summary.value
    assert value.metadata.data_class == summary_pb2.DATA_CLASS_TENSOR
    layout = metadata.parse_plugin_metadata(value.metadata.plugin_data.content)
    assert (layout.name, layout.split, layout.components) == ("aux", "val", ("box",))
    assert np.frombuffer(value.tensor.tensor_content, "<f8").tolist() == [1.0, 2.0]


def test_parse_rejects_future_versions_and_garbage():
    content = metadata.Layout("loss", "train", ["a"], False).plugin_data()
    content.version = metadata.PROTO_VERSION + 1
    assert metadata.parse_plugin_metadata(content.SerializeToString()) is None
    assert metadata.parse_plugin_metadata(b"\xff\xff\xff") is None
    with pytest.raises(TypeError):
        metadata.parse_plugin_metadata("text")


def test_torch_tensors_are_converted_in_one_batch(tmp_path):
    import torch  # requirements-dev.txt: a missing package must fail, not skip
    with detloss.summary.FileWriter(str(tmp_path)) as w:
        detloss.summary.write(
            {"box": torch.tensor(0.1), "cls": torch.tensor(0.2, dtype=torch.float64),
             "n": torch.tensor(3), "grad": torch.tensor(1.5, requires_grad=True) * 2},
            step=0, weights={"box": torch.tensor(7.5)}, writer=w)
        with pytest.raises(ValueError, match=r"components\['box'\] must be a scalar tensor"):
            detloss.summary.write({"box": torch.ones(2)}, step=1, writer=w)
    [(_, _, _, array)] = read_events(str(tmp_path))
    assert array.tolist() == [float(np.float32(0.1)), 0.2, 3.0, 3.0, 7.5, 1.0, 1.0, 1.0]


def test_writer_of_unknown_type_is_a_type_error():
    with pytest.raises(TypeError, match="writer must be"):
        detloss.summary.write({"box": 1.0}, step=0, writer=object())


def _run(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, **env), timeout=120)


def test_import_loads_neither_tensorflow_nor_torch():
    proc = _run(
        "import sys, tensorboard_plugin_detloss as d, tensorboard_plugin_detloss.plugin;"
        "print(sorted(m for m in ('tensorflow', 'torch', 'boto3') if m in sys.modules))"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_writer_none_without_tensorflow_says_what_to_do():
    proc = _run(
        "import sys; sys.modules['tensorflow'] = None\n"
        "import tensorboard_plugin_detloss as d\n"
        "try:\n    d.summary.write({'box': 1.0}, step=0)\n"
        "except ValueError as e:\n    print(e)\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert "TensorFlow is not installed" in proc.stdout
    assert "writer=" in proc.stdout


def test_filewriter_writes_after_close_fail(tmp_path):
    w = detloss.summary.FileWriter(str(tmp_path))
    w.close()
    with pytest.raises(ValueError, match="closed FileWriter"):
        detloss.summary.write({"box": 1.0}, step=0, writer=w)


def test_steps_are_written_as_blocks_per_flush_and_every_block_rows(tmp_path):
    from tensorboard_plugin_detloss import event_file

    with detloss.summary.FileWriter(str(tmp_path)) as w:
        for step in range(event_file.BLOCK_ROWS + 10):
            detloss.summary.write({"box": float(step)}, step=step, writer=w, walltime=100.0 + step)
        w.flush()
        detloss.summary.write({"box": -1.0}, step=5000, writer=w)
    events = [e for e in event_file_loader.EventFileLoader(w.path).Load() if e.summary.value]
    sizes = [e.summary.value[0].tensor.tensor_shape.dim[0].size for e in events]
    assert sizes == [event_file.BLOCK_ROWS, 10, 1]
    assert [e.step for e in events] == [0, event_file.BLOCK_ROWS, 5000]
    rows = read_events(str(tmp_path))
    assert [r[0] for r in rows] == list(range(event_file.BLOCK_ROWS + 10)) + [5000]
    assert rows[7][3].tolist() == [7.0, 1.0]


def test_crc32c_matches_tensorboards():
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as theirs

    from tensorboard_plugin_detloss._crc32c import masked_crc32c as ours

    for data in (b"", b"a", bytes(range(256)) * 5):
        assert ours(data) == theirs(data)


def test_torch_writer_gets_a_detloss_file_beside_it_flushed_with_it(tmp_path):
    from torch.utils import tensorboard as torch_tb
    writer = torch_tb.SummaryWriter(str(tmp_path))
    for step in range(3):
        detloss.summary.write({"box": float(step)}, step=step, writer=writer)
    writer.flush()
    ours = [f for f in os.listdir(str(tmp_path)) if f.endswith(".detloss")]
    assert len(ours) == 1 and os.path.getsize(os.path.join(str(tmp_path), ours[0])) > 0
    assert [e[3].tolist() for e in read_events(str(tmp_path))] == [[0.0, 1.0], [1.0, 1.0],
                                                                   [2.0, 1.0]]
    writer.close()
    detloss.summary.write({"box": 9.0}, step=3, writer=writer)  # reopened, like torch does
    writer.close()
    assert [e[0] for e in read_events(str(tmp_path))] == [0, 1, 2, 3]


_TF_EAGER_STEPS = r"""
import sys
import numpy as np
import tensorflow as tf
from tensorflow.python.eager import context
import tensorboard_plugin_detloss as d

a, b, c = sys.argv[1:4]
wa, wb = tf.summary.create_file_writer(a), tf.summary.create_file_writer(b)
with wa.as_default():
    assert bool(d.summary.write({"box": 0.5, "cls": 0.25}, step=0, weights={"box": 2.0}))
    assert bool(d.summary.write({"box": 0.5}, step=np.int64(1)))  # a second layout (tag)
    assert bool(d.summary.write({"box": 1.5, "cls": 0.75}, step=tf.constant(2, tf.int64),
                                writer=wb))  # another writer, a tensor step
    with tf.summary.record_if(False):
        assert not bool(d.summary.write({"box": 9.0, "cls": 9.0}, step=3))
    tf.summary.experimental.set_step(4)
    assert bool(d.summary.write({"box": 0.125, "cls": 0.0625}, step=None))  # the default step
    assert bool(d.summary.write({"box": 2.0 ** -30, "cls": 3.0}, step=2 ** 40))
    tf.summary.experimental.set_step(None)
wa.close()
wb.close()
context._reset_context()  # a new eager context: the layouts' string tensors are made again
with tf.summary.create_file_writer(c).as_default():
    assert bool(d.summary.write({"box": 0.5, "cls": 0.25}, step=5, weights={"box": 2.0}))
"""


def test_tf_eager_steps_tags_writers_and_record_if(tmp_path):
    """The eager TF path (cached tag/metadata tensors, the step converted once) writes every
    step to the right writer with its tag and metadata, and nothing under record_if(False)."""
    a, b, c = (str(tmp_path / x) for x in "abc")
    proc = subprocess.run([sys.executable, "-c", _TF_EAGER_STEPS, a, b, c], capture_output=True,
                          text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got_a = [(step, layout.components, array.tolist()) for step, _, layout, array in read_events(a)]
    assert got_a == [
        (0, ("box", "cls"), [0.5, 0.25, 2.0, 1.0]),
        (1, ("box",), [0.5, 1.0]),
        (4, ("box", "cls"), [0.125, 0.0625, 1.0, 1.0]),
        (2 ** 40, ("box", "cls"), [2.0 ** -30, 3.0, 1.0, 1.0]),
    ]
    assert [(s, a.tolist()) for s, _, _, a in read_events(b)] == [(2, [1.5, 0.75, 1.0, 1.0])]
    assert [(s, a.tolist()) for s, _, _, a in read_events(c)] == [(5, [0.5, 0.25, 2.0, 1.0])]
    tags = {t for _, t, _, _ in read_events(a) + read_events(b) + read_events(c)}
    assert tags == {metadata.make_tag("loss", "train", ("box", "cls"), False),
                    metadata.make_tag("loss", "train", ("box",), False)}
