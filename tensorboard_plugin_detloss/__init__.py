"""detloss: a TensorBoard plugin that shows why a multi-part loss moves.

    import tensorboard_plugin_detloss as detloss
    detloss.summary.write({"box": box, "cls": cls}, step=step, weights={"box": 7.5}, writer=w)

Importing this package loads neither TensorFlow nor torch.
"""

import importlib

from tensorboard_plugin_detloss import summary  # noqa: F401
from tensorboard_plugin_detloss.version import VERSION as __version__  # noqa: F401

# Framework integrations load their framework, so they are imported on first use only:
# `detloss.keras` imports TensorFlow, `detloss.lightning` Lightning, and so on.
_LAZY = ("keras", "lightning", "ultralytics", "distributed")


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module("tensorboard_plugin_detloss." + name)
        globals()[name] = module
        return module
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
