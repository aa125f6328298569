"""detloss: a TensorBoard plugin that shows why a multi-part loss moves.

    import tensorboard_plugin_detloss as detloss
    detloss.summary.write({"box": box, "cls": cls}, step=step, weights={"box": 7.5}, writer=w)

Importing this package loads neither TensorFlow nor torch.
"""

from tensorboard_plugin_detloss import summary  # noqa: F401
from tensorboard_plugin_detloss.version import VERSION as __version__  # noqa: F401
