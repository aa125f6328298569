"""Breakdowns from the scalars that detector frameworks already log (docs/IMPORT.md).

A *profile* says which scalar tags of a framework are loss components, which one is the logged
total, which are metrics (context, never components) and how the split (train / val) is spelled.
Profiles are data: the built-in ones below, and the ones a user writes in `detloss_profile.json`
(`load_config`). Nothing here imports a framework or reads a file of the logdir except that one
config file; the tags come from TensorBoard's data provider (`reader.list_series`).

Matching works on *logical runs*: a TensorBoard run whose last path part names a split
(`X/train`, `X/validation`, `X/eval`, ...) belongs to the logical run `X`, so sibling
directories form one run with several splits. Each logical run gets at most one profile — the
first whose signature matches — and only if some split has at least two loss components: a
classifier's lone `epoch_loss` is not a breakdown.
"""

import fnmatch
import json
import os
import re

from tensorboard.util import tb_logging

logger = tb_logging.get_logger()

CONFIG_FILENAME = "detloss_profile.json"
CONFIG_VERSION = 1

# Split spellings (a tag prefix or suffix, or a run directory's last part) -> split name.
# Validation-like names become "val" so train and validation pair up across frameworks.
_SPLIT_WORDS = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "eval": "val",
    "evaluation": "val",
    "test": "test",
}
_SPLIT_RE = "|".join(sorted(_SPLIT_WORDS, key=len, reverse=True))
# A run directory naming a split: "validation", "eval", "eval_coco" -> ("val", "val_coco").
_SPLIT_DIR = re.compile(r"^(%s)(?:[_-]([A-Za-z0-9][\w.-]*))?$" % _SPLIT_RE)

# Terms a DETR-style criterion repeats per decoder layer / denoising group / encoder; they are
# grouped under their base component (`groups` in the `runs` route), each still a component.
_AUX_SUFFIX = re.compile(r"(?:_(?:aux|dn|enc|pre)(?:_\d+)?)+$")
_AUX_PREFIX = re.compile(r"^(?:d\d+|enc|dn|d\d+\.dn|s\d+)\.")


def split_of_dir(run):
    """(logical run, split or None) for a TensorBoard run name."""
    head, _, leaf = run.rpartition("/")
    m = _SPLIT_DIR.match(leaf)
    if not m:
        return run, None
    split = _SPLIT_WORDS[m.group(1)]
    if m.group(2):
        split = "%s_%s" % (split, m.group(2))
    return (head or "."), split


def _split_name(word):
    return _SPLIT_WORDS[word.lower()] if word is not None else None


class Profile:
    """How one framework names its loss scalars.

    Attributes:
      name: the id shown as `source` in the `runs` route ("ultralytics_yolov8").
      title: a human name ("Ultralytics YOLOv8 / YOLO11").
      component: compiled regex, fully matched against a tag; group `component` is the
        component's name, optional group `split` the split word (else the run directory's
        split, else "train"). Several tags may name one component (merged by step).
      total: compiled regex (same groups, no `component`) for the logged total, or None.
      require: tuple of frozensets: the profile matches a logical run if some split logs every
        component of one of these sets (empty tuple: any two components).
      needs: compiled regex that some tag of the logical run must match, or None.
      metrics: compiled regex for metric tags (context for the val curves, never components).
      order: preferred component order; others follow, sorted.
      gains: the framework's default gains, for users who want raw values (`unweight`).
      weights: weight per component (default 1: values are shown as logged).
      unweight: divide each value by its gain and show the gain as its weight.
      notes: sentences shown with every run this profile matched.
      runs: fnmatch pattern the logical run's name must match (config profiles), or None.
    """

    def __init__(self, name, title, component, total=None, require=(), needs=None,
                 metrics=None, order=(), gains=None, weights=None, unweight=False,
                 notes=(), runs=None, total_names=()):
        self.name = name
        self.total_names = frozenset(total_names)
        self.title = title
        self.component = re.compile(component)
        self.total = re.compile(total) if total else None
        self.require = tuple(frozenset(r) for r in require)
        self.needs = re.compile(needs) if needs else None
        self.metrics = re.compile(metrics) if metrics else None
        self.order = tuple(order)
        self.gains = dict(gains or {})
        self.weights = dict(weights or {})
        self.unweight = bool(unweight)
        self.notes = (notes,) if isinstance(notes, str) else tuple(notes)
        self.runs = runs

    def __repr__(self):
        return "Profile(%r)" % self.name

    def classify(self, tag, dir_split):
        """(role, split, component or None, split_from_dir) for a tag, or None.

        role is "component", "total" or "metric"; split_from_dir says the split came from the
        run directory (or is the "train" default), not from the tag.
        """
        for role, regex in (("component", self.component), ("total", self.total),
                            ("metric", self.metrics)):
            if regex is None:
                continue
            m = regex.fullmatch(tag)
            if not m:
                continue
            word = _group(m, "split")
            split = _split_name(word) if word else (dir_split or "train")
            if role == "component":
                name = _group(m, "component")
                if not name:
                    continue
                if name.lower() in self.total_names:
                    role, name = "total", None
                return role, split, name, not word
            return role, split, None, not word
        return None


# Python regexes cannot repeat a group name: alternatives spell it split2 / component2.
def _group(match, name):
    d = match.groupdict()
    return d.get(name) or d.get(name + "2")


class Column:
    """One scalar time series feeding an imported breakdown."""

    __slots__ = ("run", "tag", "role", "component")

    def __init__(self, run, tag, role, component=None):
        self.run = run  # the TensorBoard run (e.g. "X/validation")
        self.tag = tag
        self.role = role  # "component" or "total"
        self.component = component

    def __repr__(self):
        return "Column(%r, %r, %r, %r)" % (self.run, self.tag, self.role, self.component)

    def __eq__(self, other):
        return isinstance(other, Column) and (
            (self.run, self.tag, self.role, self.component)
            == (other.run, other.tag, other.role, other.component)
        )

    def __hash__(self):
        return hash((self.run, self.tag, self.role, self.component))


class Match:
    """A profile matched to one logical run: per split, its columns and metric tags."""

    def __init__(self, profile, run, tb_runs):
        self.profile = profile
        self.run = run
        self.tb_runs = tb_runs
        self.used_dir_split = False
        self.columns = {}  # split -> [Column]
        self.metrics = {}  # split (None: every split) -> [(tb run, tag)]

    def components(self, split):
        names = {c.component for c in self.columns.get(split, ()) if c.role == "component"}
        return _ordered(names, self.profile.order)

    def metrics_of(self, split):
        return sorted(set(self.metrics.get(split, []) + self.metrics.get(None, [])))

    def weight(self, component):
        return float(self.profile.weights.get(component, 1.0))


def _ordered(names, order):
    first = [c for c in order if c in names]
    return first + sorted(n for n in names if n not in first)


def groups_of(components):
    """{base: [components]} for components that repeat a base term (aux layers, dn groups)."""
    groups = {}
    for c in components:
        base = _AUX_PREFIX.sub("", _AUX_SUFFIX.sub("", c))
        groups.setdefault(base, []).append(c)
    return {b: cs for b, cs in groups.items() if len(cs) > 1 or cs[0] != b}


# -- built-in profiles ---------------------------------------------------------------------------

_TRAIN_VAL = r"(?P<split>train|val)"
# A tag part containing "loss" that is not the total and not AMP's loss scale.
_GENERIC_LOSS = r"(?!(?:total_?)?loss$)(?![\w./-]*loss_?scal)[\w./-]*loss[\w./-]*"
_GENERIC_LOSS_LAZY = _GENERIC_LOSS[:-1] + "*?"
_ULTRA_METRICS = r"metrics/.+|lr/pg\d+|x/lr\d+|fitness|best/.+"
_ULTRA_NOTE_WEIGHTED = (
    "Values are as logged: already multiplied by the hyperparameter gains, so each band is "
    "the component's real share of the loss; no total is logged (total = sum)."
)

BUILTIN_PROFILES = (
    Profile(
        "ultralytics_yolov5", "Ultralytics YOLOv5",
        component=_TRAIN_VAL + r"/(?P<component>box_loss|obj_loss|cls_loss)",
        require=[{"box_loss", "obj_loss"}],
        metrics=_ULTRA_METRICS,
        order=("box_loss", "obj_loss", "cls_loss"),
        gains={"box_loss": 0.05, "obj_loss": 1.0, "cls_loss": 0.5},
        notes=(_ULTRA_NOTE_WEIGHTED,
               "One point per epoch (step = epoch). YOLOv5 rescales the gains by the number "
               "of detection layers, classes and image size."),
    ),
    Profile(
        "ultralytics_rtdetr", "Ultralytics RT-DETR",
        component=_TRAIN_VAL + r"/(?P<component>giou_loss|cls_loss|l1_loss)",
        require=[{"giou_loss", "l1_loss"}],
        metrics=_ULTRA_METRICS,
        order=("giou_loss", "cls_loss", "l1_loss"),
        gains={"giou_loss": 2.0, "cls_loss": 1.0, "l1_loss": 5.0},
        notes=(_ULTRA_NOTE_WEIGHTED,),
    ),
    Profile(
        "ultralytics_yolov8", "Ultralytics YOLOv8 / YOLO11",
        component=_TRAIN_VAL + r"/(?P<component>[a-z0-9]+_loss)",
        require=[{"box_loss", "cls_loss", "dfl_loss"}],
        metrics=_ULTRA_METRICS,
        order=("box_loss", "seg_loss", "pose_loss", "kobj_loss", "cls_loss", "dfl_loss"),
        gains={"box_loss": 7.5, "cls_loss": 0.5, "dfl_loss": 1.5, "pose_loss": 12.0,
               "kobj_loss": 1.0, "seg_loss": 7.5},
        notes=(_ULTRA_NOTE_WEIGHTED,
               "Step = epoch. Ultralytics 8.0 writes the train losses after every batch as "
               "running means of the epoch, all at the epoch's step: the last value of each "
               "step (the epoch's mean) is kept. A step written again (the final validation "
               "re-writes the metrics at the last epoch) also keeps its last value."),
    ),
    Profile(
        "yolox", "YOLOX",
        component=r"train/(?P<component>iou_loss|l1_loss|conf_loss|cls_loss)",
        total=r"train/total_loss",
        require=[{"iou_loss", "conf_loss"}],
        metrics=r"val/COCOAP\w*|train/lr",
        order=("iou_loss", "conf_loss", "cls_loss", "l1_loss"),
        gains={"iou_loss": 5.0},
        notes=("Values are as logged (iou_loss already carries the reg weight 5.0); "
               "step = iteration. l1_loss is 0 until the last no-augmentation epochs. "
               "YOLOX logs no validation losses, only COCO AP."),
    ),
    Profile(
        "torchvision", "torchvision detection references",
        component=(r"(?:(?P<split>%s)[/_])?(?P<component>loss_classifier|loss_box_reg|"
                   r"loss_objectness|loss_rpn_box_reg|loss_mask|loss_keypoint)"
                   r"(?:[/_](?P<split2>%s))?") % (_SPLIT_RE, _SPLIT_RE),
        total=r"(?:(?P<split>%s)[/_])?loss(?:[/_](?P<split2>%s))?" % (_SPLIT_RE, _SPLIT_RE),
        require=[{"loss_classifier", "loss_box_reg"}, {"loss_objectness", "loss_rpn_box_reg"}],
        metrics=r"(?:(?:%s)[/_])?(?:lr|mAP\w*|AP\w*)" % _SPLIT_RE,
        order=("loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg",
               "loss_mask", "loss_keypoint"),
        notes=("Values are as logged (the model's loss dict); `loss` is the logged total if "
               "there is one."),
    ),
    Profile(
        "detectron2", "Detectron2",
        component=r"(?:(?P<split>val|validation)_)?(?P<component>loss_\w+)",
        total=r"(?:(?P<split>val|validation)_)?total_loss|(?P<split2>validation)_loss",
        require=[],
        needs=r"total_loss",
        metrics=r"(?:bbox|segm|keypoints)/AP\w*|fast_rcnn/\w+|mask_rcnn/\w+|roi_head/\w+|"
                r"rpn/\w+|lr",
        order=("loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg", "loss_mask",
               "loss_keypoint"),
        notes=("Values are 20-iteration medians (Detectron2's TensorboardXWriter), so the logged "
               "total_loss, a median of sums, is not exactly the sum of the medians: the logged "
               "total is kept. Detectron2 logs no validation loss by default; hooks writing "
               "val_loss_* / validation_loss are read as the val split."),
    ),
    Profile(
        "mmdetection", "MMDetection 2.x / 3.x",
        component=r"(?:(?P<split>train|val)/)?(?P<component>(?:(?:s|d)\d+\.)?(?:enc_|dn_)?loss_\w+)",
        total=r"(?:(?P<split>train|val)/)?loss",
        require=[],
        needs=r"(?:(?:train|val)/)?loss",
        metrics=r"(?:(?:train|val)/)?(?:(?:s\d+\.)?acc\w*|\w*mAP\w*|coco/.+|pascal_voc/.+|lr|"
                r"learning_rate\S*|momentum\S*|grad_norm)",
        order=("loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox", "loss_iou",
               "loss_mask"),
        notes=("Values are as logged (already multiplied by each loss's loss_weight); `loss` is "
               "the logged total. `acc` and mAP are metrics, not components."),
    ),
    Profile(
        "tf_object_detection", "TF Object Detection API (TF2)",
        component=r"Loss/(?P<component>(?!total_loss$|normalized_total_loss$).+)",
        total=r"Loss/total_loss",
        require=[],
        needs=r"Loss/total_loss",
        metrics=r"Detection\w+_(?:Precision|Recall)/.+|\w+_PerformanceByCategory/.+|"
                r"learning_rate|steps_per_sec",
        order=("RPNLoss/objectness_loss", "RPNLoss/localization_loss",
               "BoxClassifierLoss/classification_loss", "BoxClassifierLoss/localization_loss",
               "BoxClassifierLoss/mask_loss", "classification_loss", "localization_loss",
               "regularization_loss"),
        notes=("Values are as logged (already weighted by the pipeline config); "
               "Loss/total_loss is the logged total (Loss/normalized_total_loss is left out). "
               "The eval run often has a single point per checkpoint."),
    ),
    Profile(
        "rtdetr", "RT-DETR (lyuwenyu)",
        component=r"Loss/(?P<component>loss_\w+)",
        total=r"Loss/total",
        require=[],
        needs=r"Loss/total",
        metrics=r"Test/.+|Lr/pg_\d+",
        order=("loss_vfl", "loss_bbox", "loss_giou"),
        notes=("Values are as logged (multiplied by the criterion's weight_dict); Loss/total is "
               "the logged total. Auxiliary-layer (_aux_i), denoising (_dn_i) and encoder "
               "(_enc_i) terms are components grouped under their base term."),
    ),
    Profile(
        "keras", "Keras TensorBoard callback",
        component=r"epoch_(?P<component>\w+_loss)",
        total=r"epoch_loss",
        require=[],
        needs=r"epoch_loss",
        metrics=r"epoch_(?!\w*loss$)\w+|evaluation_\w+_vs_iterations",
        notes=("Per-output losses are logged unweighted and epoch_loss includes the "
               "loss_weights and any regularization: set the loss_weights as `weights` in "
               "detloss_profile.json to see true contributions."),
    ),
    Profile(
        "generic", "Generic *loss* family",
        # A split word as prefix or suffix is required: unmarked tags are never guessed at.
        component=(r"(?i)(?:(?P<split>%s)[/_](?P<component>%s)|(?P<component2>%s)[/_](?P<split2>%s))"
                   % (_SPLIT_RE, _GENERIC_LOSS, _GENERIC_LOSS_LAZY, _SPLIT_RE)),
        total=r"(?i)(?:(?P<split>%s)[/_](?:total_?)?loss|(?:total_?)?loss[/_](?P<split2>%s))"
        % (_SPLIT_RE, _SPLIT_RE),
        require=[],
        total_names=("loss", "total_loss", "totalloss", "loss_total"),
        notes=("Matched by name only: tags containing 'loss' with a train/val prefix or suffix. "
               "Values are shown as logged, each with weight 1."),
    ),
)

PROFILES_BY_NAME = {p.name: p for p in BUILTIN_PROFILES}


def match_run(profile, run, tb_runs):
    """A `Match` if `profile` recognises the logical run `run`, else None.

    Args:
      tb_runs: {TensorBoard run: (dir split or None, iterable of scalar tags)}.
    """
    if profile.runs is not None and not fnmatch.fnmatchcase(run, profile.runs):
        return None
    if profile.needs is not None and not any(
        profile.needs.fullmatch(tag) for _, tags in tb_runs.values() for tag in tags
    ):
        return None
    m = Match(profile, run, sorted(tb_runs))
    dir_metrics = []
    for tb_run in sorted(tb_runs):
        dir_split, tags = tb_runs[tb_run]
        for tag in sorted(tags):
            hit = profile.classify(tag, dir_split)
            if hit is None:
                continue
            role, split, component, from_dir = hit
            if role == "metric":
                dir_metrics.append((split, from_dir and dir_split is None, from_dir, tb_run, tag))
                continue
            m.used_dir_split |= from_dir and dir_split is not None
            m.columns.setdefault(split, []).append(Column(tb_run, tag, role, component))
    # A metric whose tag names no split is context for every split of the run, unless the
    # run's splits are directories (then it belongs to its directory's split).
    for split, unmarked, from_dir, tb_run, tag in dir_metrics:
        key = None if unmarked or (from_dir and not m.used_dir_split) else split
        m.metrics.setdefault(key, []).append((tb_run, tag))
    # Only splits with components are breakdowns (a lone val total has nothing to pair).
    m.columns = {s: cols for s, cols in m.columns.items() if m.components(s)}
    if not any(len(m.components(s)) >= 2 for s in m.columns):
        return None
    if profile.require and not any(
        req <= set(m.components(s)) for s in m.columns for req in profile.require
    ):
        return None
    return m


def logical_runs(scalar_tags):
    """{logical run: {TensorBoard run: (dir split, tags)}} from {run: iterable of tags}."""
    grouped = {}
    for tb_run, tags in scalar_tags.items():
        run, split = split_of_dir(tb_run)
        grouped.setdefault(run, {})[tb_run] = (split, list(tags))
    return grouped


class Importer:
    """The profiles in force: a config's own profiles first, then the enabled built-ins."""

    def __init__(self, config=None, scalar_limit=None):
        self.config = config or Config()
        # Points per scalar tag TensorBoard keeps (None or 0: all), to tell a sampled read.
        self.scalar_limit = scalar_limit or None

    @property
    def error(self):
        return self.config.error

    def profiles(self):
        disabled = set(self.config.disable)
        return list(self.config.profiles) + [
            p for p in BUILTIN_PROFILES if p.name not in disabled
        ]

    def match(self, scalar_tags, skip_runs=()):
        """{logical run: Match} for every logical run a profile recognises.

        Args:
          scalar_tags: {TensorBoard run: iterable of scalar tags}.
          skip_runs: TensorBoard runs with native detloss data: their logical runs are left
            alone (native data wins).
        """
        skip = set(skip_runs)
        result = {}
        for run, tb_runs in sorted(logical_runs(scalar_tags).items()):
            if run in skip or skip.intersection(tb_runs):
                continue
            forced = self.config.runs.get(run)
            if forced == "none":
                continue
            candidates = self.profiles()
            if forced is not None:
                candidates = [p for p in candidates if p.name == forced]
            for profile in candidates:
                try:
                    m = match_run(profile, run, tb_runs)
                except Exception:  # a bad config regex must not hide other runs
                    logger.exception("detloss: profile %r failed on run %r", profile.name, run)
                    m = None
                if m is not None:
                    # "runs/detect/train" is an Ultralytics run named "train", not a split:
                    # when the tags name their splits, a lone run keeps its own name.
                    if len(tb_runs) == 1 and not m.used_dir_split:
                        m.run = next(iter(tb_runs))
                    result[m.run] = m
                    break
        return result


# -- the override file ----------------------------------------------------------------------------


class ConfigError(ValueError):
    pass


class Config:
    """A parsed `detloss_profile.json` (see docs/IMPORT.md), or the empty default."""

    def __init__(self, profiles=(), disable=(), runs=None, path=None, error=None):
        self.profiles = list(profiles)
        self.disable = list(disable)
        self.runs = dict(runs or {})
        self.path = path
        self.error = error


_CONFIG_KEYS = {"version", "profiles", "disable", "runs"}
_PROFILE_KEYS = {"name", "title", "extends", "runs", "splits", "components", "total", "metrics",
                 "weights", "gains", "unweight", "notes"}


def _expect(cond, message):
    if not cond:
        raise ConfigError(message)


def _str_map(value, where):
    _expect(isinstance(value, dict), "%s must be an object" % where)
    for k, v in value.items():
        _expect(isinstance(v, str) and v, "%s[%r] must be a non-empty string" % (where, k))
    return value


def _num_map(value, where):
    _expect(isinstance(value, dict), "%s must be an object" % where)
    for k, v in value.items():
        _expect(isinstance(v, (int, float)) and not isinstance(v, bool),
                "%s[%r] must be a number" % (where, k))
    return {k: float(v) for k, v in value.items()}


def _tag_alternatives(tags):
    return "|".join(re.escape(t) for t in tags)


def _parse_profile(spec, index):
    where = "profiles[%d]" % index
    _expect(isinstance(spec, dict), "%s must be an object" % where)
    unknown = set(spec) - _PROFILE_KEYS
    _expect(not unknown, "%s: unknown key(s) %s" % (where, ", ".join(sorted(unknown))))
    name = spec.get("name")
    _expect(isinstance(name, str) and name, "%s.name must be a non-empty string" % where)
    base = None
    if "extends" in spec:
        base = PROFILES_BY_NAME.get(spec["extends"])
        _expect(base is not None, "%s.extends: no built-in profile %r (there are %s)"
                % (where, spec["extends"], ", ".join(sorted(PROFILES_BY_NAME))))
        _expect("components" not in spec and "total" not in spec and "splits" not in spec,
                "%s: 'extends' takes weights, gains, unweight, runs, notes; not "
                "components/total/splits" % where)
    runs = spec.get("runs")
    _expect(runs is None or isinstance(runs, str), "%s.runs must be a glob string" % where)
    weights = _num_map(spec.get("weights", {}), where + ".weights")
    gains = _num_map(spec.get("gains", {}), where + ".gains")
    unweight = spec.get("unweight", False)
    _expect(isinstance(unweight, bool), "%s.unweight must be true or false" % where)
    notes = spec.get("notes", [])
    _expect(isinstance(notes, list) and all(isinstance(n, str) for n in notes),
            "%s.notes must be a list of strings" % where)
    if base is not None:
        return Profile(
            name, spec.get("title", base.title),
            component=base.component.pattern,
            total=base.total.pattern if base.total else None,
            require=base.require, needs=base.needs.pattern if base.needs else None,
            metrics=base.metrics.pattern if base.metrics else None,
            order=base.order, gains=dict(base.gains, **gains), weights=dict(base.weights, **weights),
            unweight=unweight, notes=tuple(notes) or base.notes, runs=runs,
        )
    components = _str_map(spec.get("components"), where + ".components")
    _expect(len(components) >= 1, "%s.components must name at least one component" % where)
    splits = _str_map(spec.get("splits", {"train": "{}"}), where + ".splits")
    for split, template in splits.items():
        _expect(template.count("{}") == 1,
                "%s.splits[%r] must contain {} once (where the tag goes)" % (where, split))
    total = spec.get("total")
    _expect(total is None or (isinstance(total, str) and total),
            "%s.total must be a tag (string)" % where)
    metrics = spec.get("metrics", [])
    _expect(isinstance(metrics, list) and all(isinstance(t, str) for t in metrics),
            "%s.metrics must be a list of tags" % where)
    unknown_weights = set(weights) - set(components)
    _expect(not unknown_weights, "%s.weights names unknown component(s) %s"
            % (where, ", ".join(sorted(unknown_weights))))

    # Every (split, tag) the profile names, exactly: tag -> (role, split, component).
    table = {}
    for split, template in splits.items():
        _expect(split, "%s.splits: empty split name" % where)
        entries = [("component", c, t) for c, t in components.items()]
        entries += [("total", None, total)] if total else []
        entries += [("metric", None, t) for t in metrics]
        for role, cname, tag in entries:
            table.setdefault(template.replace("{}", tag), (role, split, cname))
    return _ConfigProfile(
        name, spec.get("title", name), table, bare=[s for s, t in splits.items() if t == "{}"],
        order=tuple(components), gains=gains, weights=weights, unweight=unweight,
        notes=tuple(notes) or ("Mapped by %s." % CONFIG_FILENAME,), runs=runs,
    )


class _ConfigProfile(Profile):
    """A profile from the config file: exact tags, not patterns."""

    def __init__(self, name, title, table, bare, **kwargs):
        super().__init__(name, title, component=r"(?!)", **kwargs)
        self._table = table
        self._bare = set(bare)

    def classify(self, tag, dir_split):
        hit = self._table.get(tag)
        if hit is None:
            return None
        role, split, cname = hit
        # A split whose template is the bare tag takes the run directory's split, if any.
        if split in self._bare and dir_split is not None:
            return role, dir_split, cname, True
        return role, split, cname, split in self._bare


def parse_config(text, path=None):
    """A `Config` from the JSON text of a profile file; raises ConfigError naming the problem."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ConfigError("not valid JSON: %s" % e)
    _expect(isinstance(data, dict), "the top level must be an object")
    unknown = set(data) - _CONFIG_KEYS
    _expect(not unknown, "unknown key(s) %s (known: %s)"
            % (", ".join(sorted(unknown)), ", ".join(sorted(_CONFIG_KEYS))))
    version = data.get("version", CONFIG_VERSION)
    _expect(version == CONFIG_VERSION, "version must be %d, got %r" % (CONFIG_VERSION, version))
    profiles_spec = data.get("profiles", [])
    _expect(isinstance(profiles_spec, list), "profiles must be a list")
    profiles = [_parse_profile(spec, i) for i, spec in enumerate(profiles_spec)]
    names = [p.name for p in profiles]
    _expect(len(set(names)) == len(names), "profiles: a name is used twice")
    disable = data.get("disable", [])
    _expect(isinstance(disable, list) and all(isinstance(d, str) for d in disable),
            "disable must be a list of profile names")
    bad = [d for d in disable if d not in PROFILES_BY_NAME]
    _expect(not bad, "disable: no built-in profile %s (there are %s)"
            % (", ".join(repr(b) for b in bad), ", ".join(sorted(PROFILES_BY_NAME))))
    runs = _str_map(data.get("runs", {}), "runs")
    known = set(names) | set(PROFILES_BY_NAME) | {"none"}
    for run, prof in runs.items():
        _expect(prof in known, "runs[%r]: no profile %r (use a profile name or \"none\")"
                % (run, prof))
    return Config(profiles, disable, runs, path=path)


def load_config(path):
    """The `Config` at `path`: empty if there is no file, with `.error` set if it is invalid.

    Never raises: an unreadable or invalid file leaves the built-in profiles in force, and
    the error is logged and reported by the `runs` route.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read(1_000_001)
    except FileNotFoundError:
        return Config(path=None)
    except OSError as e:
        return Config(path=path, error="%s: cannot read: %s" % (path, e))
    if len(raw) > 1_000_000:
        return Config(path=path, error="%s: larger than 1 MB" % path)
    try:
        return parse_config(raw.decode("utf-8"), path=path)
    except (ConfigError, UnicodeDecodeError) as e:
        return Config(path=path, error="%s: %s" % (path, e))


class ConfigSource:
    """Re-reads the override file when it changes (mtime and size), logging a new error once."""

    def __init__(self, path):
        self.path = path
        self._stamp = None
        self._config = Config()

    def get(self):
        if not self.path:
            return self._config
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if stamp != self._stamp:
            self._stamp = stamp
            self._config = load_config(self.path) if stamp else Config()
            if self._config.error:
                logger.error("detloss: ignoring the profile file: %s", self._config.error)
        return self._config
