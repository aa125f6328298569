"""YOLOv8n (built from its yaml, no weights) trained for two epochs on a tiny synthetic dataset,
with `detloss.ultralytics.add_callbacks`. Runs offline: nothing is downloaded.

    python examples/ultralytics_tiny.py WORKDIR       # needs ultralytics (and torchvision)

Writes WORKDIR/data (8 train + 4 val images of coloured squares) and the run under
WORKDIR/runs/detect/train*, beside Ultralytics' own TensorBoard scalars.
"""

import argparse
import os
import shutil
import sys


def offline_environment(workdir):
    """Ultralytics settings that never touch the network (see ../shared ANCHORS notes)."""
    config = os.path.join(workdir, "yolo_config")
    os.makedirs(os.path.join(config, "Ultralytics"), exist_ok=True)
    os.environ.update(YOLO_OFFLINE="1", YOLO_AUTOINSTALL="false", YOLO_CONFIG_DIR=config)
    os.environ.pop("PYTEST_CURRENT_TEST", None)  # Ultralytics disables its TensorBoard under pytest
    import matplotlib

    font = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf",
                        "DejaVuSans.ttf")
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        shutil.copy(font, os.path.join(config, "Ultralytics", name))


def make_dataset(root, seed=0):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, n in (("train", 8), ("val", 4)):
        os.makedirs(os.path.join(root, "images", split), exist_ok=True)
        os.makedirs(os.path.join(root, "labels", split), exist_ok=True)
        for i in range(n):
            image = np.full((64, 64, 3), 40, np.uint8)
            lines = []
            for _ in range(rng.integers(1, 3)):
                cls = int(rng.integers(0, 2))
                w, h = rng.integers(12, 28, 2)
                x, y = rng.integers(0, 64 - w), rng.integers(0, 64 - h)
                image[y:y + h, x:x + w] = (220, 60, 60) if cls == 0 else (60, 60, 220)
                lines.append("%d %.4f %.4f %.4f %.4f" % (cls, (x + w / 2) / 64, (y + h / 2) / 64,
                                                         w / 64, h / 64))
            Image.fromarray(image).save(os.path.join(root, "images", split, "%d.png" % i))
            with open(os.path.join(root, "labels", split, "%d.txt" % i), "w") as f:
                f.write("\n".join(lines) + "\n")
    yaml = os.path.join(root, "data.yaml")
    with open(yaml, "w") as f:
        f.write("path: %s\ntrain: images/train\nval: images/val\nnames:\n  0: red\n  1: blue\n"
                % root)
    return yaml


def train(workdir, epochs=2):
    offline_environment(workdir)
    from ultralytics import YOLO, settings

    import tensorboard_plugin_detloss as detloss

    wanted = dict(sync=False, tensorboard=True, wandb=False, mlflow=False, comet=False,
                  clearml=False, dvc=False, neptune=False, raytune=False, hub=False)
    settings.update({k: v for k, v in wanted.items() if k in settings})
    data = make_dataset(os.path.join(workdir, "data"))
    model = detloss.ultralytics.add_callbacks(YOLO("yolov8n.yaml"))
    model.train(data=data, epochs=epochs, imgsz=64, batch=4, workers=0, plots=False, nbs=4,
                warmup_epochs=0, device="cpu", amp=False, project=os.path.join(workdir, "runs"),
                name="train", exist_ok=True, verbose=False, val=True)
    return os.path.join(workdir, "runs", "train")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workdir")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    print("wrote", train(os.path.abspath(args.workdir), args.epochs))
    sys.exit(0)
