"""tensorboard-plugin-detloss: the Loss Breakdown tab for TensorBoard."""

import os

import setuptools

here = os.path.dirname(os.path.abspath(__file__))
version = {}
with open(os.path.join(here, "tensorboard_plugin_detloss", "version.py")) as f:
    exec(f.read(), version)
with open(os.path.join(here, "README.md"), encoding="utf-8") as f:
    long_description = f.read()

setuptools.setup(
    name="tensorboard-plugin-detloss",
    version=version["VERSION"],
    description="TensorBoard plugin: why a multi-part (object-detection) loss moves",
    long_description=long_description,
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=setuptools.find_packages(include=["tensorboard_plugin_detloss", "tensorboard_plugin_detloss.*"]),
    package_data={
        "tensorboard_plugin_detloss": ["static/*.js", "static/*.css", "proto/*.proto"],
    },
    install_requires=[
        "tensorboard>=2.21",
        "protobuf>=6.31.1,<8",
        "numpy>=1.21",
        "werkzeug>=1.0.1",
        "google-crc32c>=1.5",  # C CRC-32C for event-file framing: a third of a step's cost otherwise
    ],
    extras_require={
        "tf": ["tensorflow>=2.16"],
    },
    entry_points={
        "console_scripts": ["detloss = tensorboard_plugin_detloss.cli:main"],
        "tensorboard_plugins": [
            "detloss = tensorboard_plugin_detloss.plugin:DetlossLoader",
        ],
    },
    classifiers=[
        "Framework :: TensorFlow",
        "Intended Audience :: Science/Research",
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
