"""A YOLO-style custom TensorFlow loss that logs its parts with ONE call, in graph mode.

Before (one tf.summary.scalar per part, as in many YOLO ports):

    tf.summary.scalar("classification_loss_sum", classification_loss_sum, step=step)
    tf.summary.scalar("coordinates_loss_sum", coordinates_loss_sum, step=step)
    tf.summary.scalar("confidence_loss_sum", confidence_loss_sum, step=step)

After (inside the same loss function, inside tf.function):

    detloss.summary.write({"classification": classification_loss_sum,
                           "coordinates": coordinates_loss_sum,
                           "confidence": confidence_loss_sum},
                          weights={"coordinates": LAMBDA_COORD}, total=total)

    python examples/tf_custom_yolo_loss.py logs/yolo_tf
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import tensorboard_plugin_detloss as detloss  # noqa: E402

LAMBDA_COORD, GRID, CLASSES = 5.0, 4, 3


def yolo_loss(y_true, y_pred):
    """y: [batch, GRID, GRID, 5 + CLASSES] = (x, y, w, h, objectness, class one-hot)."""
    obj = y_true[..., 4]
    coordinates_loss_sum = tf.reduce_sum(obj * tf.reduce_sum(
        tf.square(y_true[..., :4] - y_pred[..., :4]), axis=-1))
    confidence_loss_sum = tf.reduce_sum(tf.keras.losses.binary_crossentropy(
        y_true[..., 4:5], y_pred[..., 4:5]))
    classification_loss_sum = tf.reduce_sum(obj * tf.keras.losses.categorical_crossentropy(
        y_true[..., 5:], y_pred[..., 5:]))
    total = LAMBDA_COORD * coordinates_loss_sum + confidence_loss_sum + classification_loss_sum
    detloss.summary.write({"classification": classification_loss_sum,
                           "coordinates": coordinates_loss_sum,
                           "confidence": confidence_loss_sum},
                          weights={"coordinates": LAMBDA_COORD}, total=total)
    return total


def model():
    inputs = tf.keras.Input((16, 16, 1))
    x = tf.keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = tf.keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    boxes = tf.keras.layers.Conv2D(5, 1, activation="sigmoid")(x)
    classes = tf.keras.layers.Conv2D(CLASSES, 1, activation="softmax")(x)
    return tf.keras.Model(inputs, tf.keras.layers.Concatenate()([boxes, classes]))


def data(n, seed):
    g = tf.random.Generator.from_seed(seed)
    images = g.normal((n, 16, 16, 1))
    target = tf.concat([g.uniform((n, GRID, GRID, 4)),
                        tf.cast(g.uniform((n, GRID, GRID, 1)) > 0.7, tf.float32),
                        tf.one_hot(g.uniform((n, GRID, GRID), 0, CLASSES, tf.int32), CLASSES)], -1)
    return images, target


def train(log_dir, steps=40):
    net = model()
    optimizer = tf.keras.optimizers.Adam(1e-2)
    images, targets = data(256, 0)
    # The default step of tf.summary, as a variable so tf.function reads it at run time.
    tf.summary.experimental.set_step(optimizer.iterations)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = yolo_loss(y, net(x, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, net.trainable_variables),
                                      net.trainable_variables))
        return loss

    with tf.summary.create_file_writer(log_dir).as_default():
        for i in range(steps):
            j = (i * 32) % 256
            train_step(images[j:j + 32], targets[j:j + 32])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("log_dir")
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    train(args.log_dir, args.steps)
    print("wrote", args.log_dir)
