"""A two-head detection model (classification + box regression) trained with Keras' `fit`,
logging its loss breakdown with `detloss.keras.LossBreakdown` next to Keras' own TensorBoard.

    python examples/keras_multi_output.py logs/keras_detector   # a few seconds on a CPU
    tensorboard --logdir logs

Synthetic data: 16x16 images with one bright square; the model predicts its class (3 classes,
by brightness) and its box (x, y, w, h in [0, 1]).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tensorboard_plugin_detloss as detloss  # noqa: E402


def synthetic(n, rng):
    images = rng.normal(0, 0.05, (n, 16, 16, 1)).astype("float32")
    classes = rng.integers(0, 3, n)
    boxes = np.zeros((n, 4), "float32")
    for i in range(n):
        w, h = rng.integers(3, 8, 2)
        x, y = rng.integers(0, 16 - w), rng.integers(0, 16 - h)
        images[i, y:y + h, x:x + w, 0] += 0.4 + 0.3 * classes[i]
        boxes[i] = (x / 16, y / 16, w / 16, h / 16)
    return images, {"cls": keras.utils.to_categorical(classes, 3), "box": boxes}


def build():
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    cls = keras.layers.Dense(3, activation="softmax", name="cls")(x)
    box = keras.layers.Dense(4, activation="sigmoid", name="box")(x)
    model = keras.Model(inputs, {"cls": cls, "box": box})
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss={"cls": "categorical_crossentropy", "box": "mse"},
                  loss_weights={"cls": 1.0, "box": 5.0})
    return model


def train(log_dir, epochs=6, seed=0):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x, y = synthetic(512, rng)
    xv, yv = synthetic(128, rng)
    model = build()
    model.fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=32, verbose=0,
              callbacks=[keras.callbacks.TensorBoard(log_dir),
                         detloss.keras.LossBreakdown(log_dir, update_freq="batch")])
    return model


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("log_dir")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    train(args.log_dir, args.epochs)
    print("wrote", args.log_dir)
