"""A built wheel, installed into a fresh virtualenv with no TensorFlow and no torch, shows the tab.

The wheel must carry the frontend bundle and the _pb2 module, so a user needs neither npm nor
protoc; the fresh environment proves the package's own dependencies are enough.
"""

import json
import os
import subprocess
import sys
import time
import zipfile

import pytest

from tb_process import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), ROOT],
                   check=True, timeout=300)
    [name] = [f for f in os.listdir(out) if f.endswith(".whl")]
    return str(out / name)


def test_wheel_carries_bundle_pb2_and_entry_point(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        entry_points = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "tensorboard_plugin_detloss/static/index.js" in names
    assert "tensorboard_plugin_detloss/proto/plugin_data_pb2.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "[tensorboard_plugins]" in entry_points
    assert "detloss = tensorboard_plugin_detloss.plugin:DetlossLoader" in entry_points
    assert not [n for n in names if n.startswith(("tests/", "frontend/"))]


_WRITE = """
import sys
import tensorboard_plugin_detloss as detloss
with detloss.summary.FileWriter(sys.argv[1] + "/run_a") as w:
    for step in range(300):
        detloss.summary.write({"box": 1.0 / (step + 1), "cls": 0.5}, step=step,
                              weights={"box": 7.5}, writer=w)
assert "tensorflow" not in sys.modules and "torch" not in sys.modules
"""


def test_fresh_virtualenv_without_tf_or_torch_sees_the_tab(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel],
                   check=True, timeout=900)
    installed = subprocess.run([py, "-m", "pip", "list", "--format=json"], check=True,
                               capture_output=True, text=True).stdout
    names = {p["name"].lower() for p in json.loads(installed)}
    assert "tensorflow" not in names and "torch" not in names and "tensorflow-cpu" not in names

    logdir = tmp_path / "logs"
    subprocess.run([py, "-c", _WRITE, str(logdir)], check=True, timeout=120, cwd=str(tmp_path))

    port = free_port()
    log = open(tmp_path / "tb.log", "wb")
    proc = subprocess.Popen(
        [str(venv / "bin" / "tensorboard"), "--logdir", str(logdir), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp_path),
    )
    try:
        import urllib.request

        deadline = time.time() + 90
        listing = runs = None
        while time.time() < deadline:
            try:
                base = "http://127.0.0.1:%d" % port
                listing = json.load(urllib.request.urlopen(base + "/data/plugins_listing"))
                runs = json.load(urllib.request.urlopen(base + "/data/plugin/detloss/runs"))
                if runs and listing.get("detloss", {}).get("enabled"):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert listing and listing["detloss"]["tab_name"] == "Loss Breakdown", (
            (tmp_path / "tb.log").read_text())
        assert listing["detloss"]["enabled"] is True
        assert runs == [{"run": "run_a", "name": "loss", "split": "train",
                         "components": ["box", "cls"], "source": "detloss"}]
        bundle = urllib.request.urlopen(base + "/data/plugin/detloss/index.js")
        assert bundle.status == 200 and b"render" in bundle.read()
        body = json.load(urllib.request.urlopen(
            base + "/data/plugin/detloss/breakdown?run=run_a&split=train"))
        assert body["steps"] == list(range(300))
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
