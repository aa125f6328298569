"""What a detloss time series is on disk: plugin name, tags, metadata, tensor layout.

Shared by the writer (``summary``) and the reader (``reader``); see docs/FORMAT.md.
"""

import functools
import hashlib
import struct

from tensorboard.compat.proto import summary_pb2

from tensorboard_plugin_detloss.proto import plugin_data_pb2

PLUGIN_NAME = "detloss"

# The most recent value of the `version` field of `BreakdownPluginData`.
# Readers accept every version up to this one and skip newer ones. Version 1: one step per
# event (the TF path writes these); version 2: blocks of steps (detloss's FileWriter);
# version 3: the overview of a version-2 series (overview.py), which older readers skip.
PROTO_VERSION = 3

# Every detloss tag starts with this, so it never collides with a user's scalar tags.
TAG_PREFIX = "detloss/"

DEFAULT_NAME = "loss"


class Layout:
    """The fixed shape of one series: loss name, split, ordered components, total or not."""

    __slots__ = ("name", "split", "components", "has_total", "block", "overview", "tag",
                 "block_tag", "pack", "pack_row")

    def __init__(self, name, split, components, has_total, block=False, overview=0):
        self.name = name
        self.split = split
        self.components = tuple(components)
        self.has_total = bool(has_total)
        self.block = bool(block) or overview > 0
        self.overview = int(overview)  # > 0: the overview of a block series (steps per bucket)
        self.tag = make_tag(name, split, self.components, self.has_total, self.block)
        self.block_tag = self.tag  # an overview's: the tag of the block series it summarises
        if self.overview:
            self.tag += "/overview%d" % self.overview
        # A step's numbers as the tensor's little-endian float64 content (version 1), and a
        # block row [step, wall_time, numbers...] (version 2).
        self.pack = struct.Struct("<%dd" % self.tensor_length).pack
        self.pack_row = struct.Struct("<%dd" % (2 + self.tensor_length)).pack

    @property
    def tensor_length(self):
        return 2 * len(self.components) + (1 if self.has_total else 0)

    @property
    def row_width(self):
        """Numbers per row of a block: step, wall time, the tensor's, and an overview's count."""
        return 2 + self.tensor_length + (1 if self.overview else 0)

    def as_block(self):
        """The same layout stored as blocks of steps (version 2)."""
        return Layout(self.name, self.split, self.components, self.has_total, block=True)

    def as_overview(self, size):
        """The overview of this block layout at buckets of `size` steps (version 3)."""
        return Layout(self.name, self.split, self.components, self.has_total, overview=size)

    def plugin_data(self):
        return plugin_data_pb2.BreakdownPluginData(
            version=3 if self.overview else 2 if self.block else 1,
            name=self.name,
            split=self.split,
            components=self.components,
            has_total=self.has_total,
            block=self.block,
            overview=self.overview,
        )

    def summary_metadata(self):
        return create_summary_metadata(self)

    def __eq__(self, other):
        return isinstance(other, Layout) and self.tag == other.tag

    def __hash__(self):
        return hash(self.tag)

    def __repr__(self):
        return "Layout(%r, %r, %r, has_total=%r, block=%r, overview=%r)" % (
            self.name, self.split, self.components, self.has_total, self.block, self.overview)


def _escape(part):
    # Injective on strings: '%' and '/' are escaped, so tag parts never run together.
    return part.replace("%", "%25").replace("/", "%2F")


def make_tag(name, split, components, has_total, block=False):
    """The tag of one layout: readable prefix, plus a fingerprint of the whole layout.

    The fingerprint makes a tag's metadata immutable: a new layout is a new tag.
    """
    h = hashlib.sha1()
    for part in (name, split, *components):
        encoded = part.encode("utf-8")
        h.update(b"%d:" % len(encoded))
        h.update(encoded)
    h.update(b"T" if has_total else b"F")
    if block:
        h.update(b"B")  # a different tensor shape: never the same tag as per-step data
    return "%s%s/%s/%s" % (TAG_PREFIX, _escape(name), _escape(split), h.hexdigest()[:12])


def create_summary_metadata(layout):
    """A `SummaryMetadata` proto for one layout (data class TENSOR, so both loaders keep it)."""
    return summary_pb2.SummaryMetadata(
        summary_description="detloss loss breakdown: %s / %s%s" % (
            layout.name, layout.split,
            " (overview, %d steps per bucket)" % layout.overview if layout.overview else ""),
        plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name=PLUGIN_NAME,
            content=layout.plugin_data().SerializeToString(),
        ),
        data_class=summary_pb2.DATA_CLASS_TENSOR,
    )


@functools.lru_cache(maxsize=4096)  # every listing parses every tag's metadata again
def parse_plugin_metadata(content):
    """Parses `plugin_data.content` into a `Layout`, or None if it is not one we can read.

    Returns None (rather than raising) for a newer version or a malformed payload, so one
    odd series never takes the whole tab down.
    """
    if not isinstance(content, bytes):
        raise TypeError("content must be bytes, got %s" % type(content).__name__)
    try:
        data = plugin_data_pb2.BreakdownPluginData.FromString(content)
    except Exception:  # google.protobuf.message.DecodeError and friends
        return None
    if data.version < 1 or data.version > PROTO_VERSION or (data.block and data.version < 2):
        return None
    if (data.overview != 0) != (data.version == 3) or data.overview < 0:
        return None
    if not data.components or len(set(data.components)) != len(data.components):
        return None
    return Layout(data.name, data.split, data.components, data.has_total, data.block,
                  data.overview)
