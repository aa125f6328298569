"""`python -m tensorboard_plugin_detloss check LOGDIR` (same as the `detloss` command)."""

import sys

from tensorboard_plugin_detloss.cli import main

sys.exit(main())
