"""The TensorBoard plugin: the Loss Breakdown tab's HTTP routes and its loader.

Routes (under /data/plugin/detloss/, documented in docs/API.md):
  GET  runs                one object per (run, loss name, split), native or imported
  GET  profiles            the import profiles in force and the override file's status
  GET  breakdown           one breakdown, as JSON or (format=csv) CSV, streamed
  POST breakdown_multirun  one split of many runs, from one data-provider read, streamed
  GET  warnings            the diagnostics of one loss of a run (every split, every step)
  GET  attribution         what moved the total between two steps, by component
  GET  index.js            the frontend bundle
"""

import collections
import csv
import functools
import io
import itertools
import json
import mimetypes
import os
import threading
import time
import zlib

from tensorboard import errors, plugin_util
from tensorboard.backend import http_util, json_util
from tensorboard.plugins import base_plugin
from tensorboard.util import tb_logging
from werkzeug import exceptions as http_exceptions
from werkzeug import wrappers

from tensorboard_plugin_detloss import diagnostics, importers, metadata, reader, wire

# Points kept per scalar tag unless --samples_per_plugin says otherwise (TensorBoard: 1000).
# Every step of the profiles' usual logs fits (an epoch-stepped run, Detectron2's 20-iteration
# period up to 200k iterations); the worst case stays 10x TensorBoard's own default.
SCALAR_SAMPLES = 10_000

logger = tb_logging.get_logger()

_STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
_MAX_PARAM_LENGTH = 100_000
LISTING_TTL = 2.0  # seconds a listing of the series is reused
# Once the tab has listed the runs, every native series is read in the background (batch by
# batch) and kept downsampled to WARM_POINTS steps, with its diagnostics: the tab's first
# charts, comparisons and warnings then come from memory. Changed series are read again at
# most every WARM_INTERVAL seconds (the tab reloads every 30 s).
WARM_POINTS = 4096
WARM_INTERVAL = 10.0


_DRAIN_LIMIT = 16 << 20  # bytes of an unread request body read off the socket


def _application(route):
    """`wrappers.Request.application`, then reads what is left of the request body (up to
    _DRAIN_LIMIT bytes).

    Werkzeug's development server (TensorBoard's) drains unread input after each response
    with a blocking read of up to 10 MB before closing the connection, so a body a route did
    not read (a GET with a body, a form refused as too large) kept the connection and its
    thread open until the client gave up. Reading the declared length here lets it close.
    """

    @wrappers.Request.application
    @functools.wraps(route)
    def app(*args):
        request = args[-1]
        try:
            return route(*args)
        finally:
            if (request.content_length or 0) <= _DRAIN_LIMIT:
                # request.stream stops at the declared length, wherever a parser left it.
                while request.stream.read(1 << 20):
                    pass

    return app


class DetlossPlugin(base_plugin.TBPlugin):
    plugin_name = metadata.PLUGIN_NAME

    def __init__(self, context):
        self._data_provider = context.data_provider
        flags = getattr(context, "flags", None)
        self._config = importers.ConfigSource(_config_path(flags))
        samples = getattr(flags, "samples_per_plugin", None)
        self._scalar_limit = (
            samples.get(reader.SCALARS_PLUGIN) if isinstance(samples, dict) else None
        )
        self._listing_lock = threading.Lock()
        self._listing = {}
        self._breakdowns = reader.BreakdownCache()
        # JSON of display-downsampled breakdowns, per (series, max_points): what the tab asks
        # for again and again, small, kept when the full breakdowns no longer fit.
        self._displays = reader.FingerprintCache(max_entries=4096, max_bytes=64 << 20)
        # The same in the binary format (wire.py): (header entry, column bytes) per series.
        self._binary_displays = reader.FingerprintCache(
            max_entries=4096, max_bytes=64 << 20,
            sizeof=lambda item: 512 + sum(len(c) for c in item[1]))
        # Warnings JSON per loss (its sorted keys), while every split's data is unchanged.
        self._findings = reader.FingerprintCache(max_entries=256, sizeof=lambda _: 0)
        # (experiment, run, loss name) -> (lock, Diagnoser): new steps update the findings
        # without re-reading what the engine has already summarised.
        self._diagnosers = collections.OrderedDict()
        # Display breakdowns (≤ WARM_POINTS steps) read ahead by the warming thread.
        self._warm = reader.FingerprintCache(max_entries=8192, max_bytes=64 << 20,
                                             sizeof=reader.breakdown_nbytes)
        self._warm_lock = threading.Lock()
        self._warm_request = None  # (ctx, experiment) to warm next
        self._warm_thread = None
        self.warm_idle = threading.Event()  # set while no warming is pending (for tests)
        self.warm_idle.set()

    def _importer(self, config=None):
        return importers.Importer(config or self._config.get(), self._scalar_limit)

    def _list_series(self, ctx, experiment, config=None):
        """`reader.list_series`, reused for LISTING_TTL seconds (each listing is one or two
        data-provider calls, ≈ 50 ms each under --load_fast=true; TensorBoard itself only
        reloads every few seconds)."""
        config = config or self._config.get()
        cache_key = (experiment, id(config))
        now = time.monotonic()
        with self._listing_lock:
            hit = self._listing.get(cache_key)
            if hit is not None and now - hit[0] < LISTING_TTL:
                return hit[1]
        series = reader.list_series(self._data_provider, ctx, experiment, self._importer(config))
        with self._listing_lock:
            self._listing = {cache_key: (now, series)}  # one experiment's listing at a time
        return series

    def is_active(self):
        """Native data enables the tab through `data_plugin_names` meeting `list_plugins`;
        TensorBoard asks this only when there is none: is there data a profile recognises?"""
        if self._data_provider is None:
            return False
        from tensorboard import context as tb_context

        series = self._list_series(tb_context.RequestContext(), "")
        return bool(series)

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name="Loss Breakdown")

    def get_plugin_apps(self):
        return {
            "/index.js": self._serve_static,
            "/static/*": self._serve_static,
            "/runs": self._serve_runs,
            "/profiles": self._serve_profiles,
            "/breakdown": self._serve_breakdown,
            "/breakdown_multirun": self._serve_breakdown_multirun,
            "/warnings": self._serve_warnings,
            "/attribution": self._serve_attribution,
        }

    def _read_one(self, request, run, split, name, max_points=None):
        """The Breakdown a request names (NotFound/InvalidArgument naming what is missing);
        for display (`max_points`), what was read ahead if it is current."""
        ctx = plugin_util.context(request.environ)
        experiment = plugin_util.experiment_id(request.environ)
        series = self._list_series(ctx, experiment)
        key = _resolve(series, run, split, name)
        if max_points is not None:
            for _, display in self._displays_of(ctx, experiment, series, [key], max_points):
                return display
        return reader.read_breakdowns(self._data_provider, ctx, experiment, [key], series,
                                      cache=self._breakdowns)[key]

    # -- routes ------------------------------------------------------------------------------

    @_application
    def _serve_static(self, request):
        name = request.path.rsplit("/", 1)[-1]
        try:
            path = os.path.realpath(os.path.join(_STATIC_DIR, name))
            found = (os.path.dirname(path) == os.path.realpath(_STATIC_DIR)
                     and os.path.isfile(path))
        except (ValueError, OSError):  # a NUL byte, a name too long for the filesystem
            found = False
        if not found:
            return _error(request, "no static file %r" % name[:200], 404)
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if path.endswith(".js"):
            content_type = "text/javascript"
        with open(path, "rb") as f:
            return http_util.Respond(request, f.read(), content_type)

    @_application
    def _serve_runs(self, request):
        ctx, experiment = plugin_util.context(request.environ), plugin_util.experiment_id(
            request.environ
        )
        config = self._config.get()
        series = self._list_series(ctx, experiment, config)
        body = []
        for key, s in sorted(series.items()):
            item = {
                "run": key.run,
                "name": key.name,
                "split": key.split,
                "components": list(s.components),
                "source": s.source,
            }
            if s.imported:
                notes = list(s.notes)
                if config.error:
                    notes.append("The override file was ignored: %s" % config.error)
                item["notes"] = notes
                item["metrics"] = sorted({tag for _, tag in s.metrics})
            elif s.notes:
                item["notes"] = list(s.notes)
            if s.groups:
                item["groups"] = s.groups
            body.append(item)
        if any(not s.imported for s in series.values()):
            self._schedule_warm(ctx, experiment)
        return http_util.Respond(request, body, "application/json")

    @_application
    def _serve_profiles(self, request):
        config = self._config.get()
        body = {
            "config_path": self._config.path,
            "config_loaded": bool(config.path) and not config.error,
            "config_error": config.error,
            "profiles": [
                {"name": p.name, "title": p.title, "builtin": p.name in importers.PROFILES_BY_NAME
                 and p is importers.PROFILES_BY_NAME[p.name]}
                for p in importers.Importer(config).profiles()
            ],
        }
        return http_util.Respond(request, body, "application/json")

    @_application
    def _serve_breakdown(self, request):
        if request.method != "GET":
            return _error(request, "breakdown takes GET", 405)
        try:
            run = _param(request.args, "run", required=True)
            split = _param(request.args, "split", required=True)
            name = _param(request.args, "name")
            max_points = _max_points(request.args)
            fmt = _param(request.args, "format") or "json"
            if fmt not in ("json", "csv", "binary"):
                raise errors.InvalidArgumentError(
                    "format must be 'json', 'csv' or 'binary', got %r" % fmt
                )
            _check_binary(fmt, max_points)
            breakdown = self._read_one(request, run, split, name, max_points)
        except errors.PublicError as e:
            return _error(request, str(e), e.http_code)
        breakdown = _for_display(breakdown, max_points)
        if fmt == "binary":
            return _binary(request, wire.answer([wire.encode(breakdown)]))
        if fmt == "csv":
            return _streamed(request, csv_chunks(breakdown), "text/csv; charset=utf-8")
        return _streamed(request, json_chunks(breakdown), "application/json")

    @_application
    def _serve_breakdown_multirun(self, request):
        if request.method != "POST":
            return _error(request, "breakdown_multirun takes POST with form fields", 405)
        # Bounds the whole body too: Werkzeug spools multipart file parts to disk unbounded.
        request.max_content_length = _DRAIN_LIMIT
        # And url-encoded fields to max_form_memory_size (500 KB) before parsing: Werkzeug
        # 3.1.8 did this itself, 3.1.9 parses any size into memory.
        if (request.mimetype == "application/x-www-form-urlencoded"
                and (request.content_length or 0) > (request.max_form_memory_size or 0) > 0):
            return _form_too_large(request)
        try:
            form = request.form
        except http_exceptions.RequestEntityTooLarge:
            return _form_too_large(request)
        try:
            runs = form.getlist("runs")
            if not runs:
                raise errors.InvalidArgumentError("missing form field 'runs' (repeat it per run)")
            for run in runs:
                _check_length("runs", run)
            split = _param(form, "split", required=True)
            name = _param(form, "name")
            max_points = _max_points(form)
            fmt = _param(form, "format") or "json"
            if fmt not in ("json", "binary"):
                raise errors.InvalidArgumentError(
                    "format must be 'json' or 'binary', got %r" % fmt)
            _check_binary(fmt, max_points)
            ctx = plugin_util.context(request.environ)
            experiment = plugin_util.experiment_id(request.environ)
            series = self._list_series(ctx, experiment)
            known_runs = {k.run for k in series}
            unknown = [r for r in dict.fromkeys(runs) if r not in known_runs]
            if unknown:
                raise errors.NotFoundError(
                    "no detloss data for run(s): %s" % ", ".join(repr(r) for r in unknown)
                )
            keys = []
            for run in dict.fromkeys(runs):
                try:
                    keys.append(_resolve(series, run, split, name))
                except errors.NotFoundError:
                    continue  # this run does not log that split/name: leave it out
            if max_points is None:  # every step: streamed, read batch by batch
                items = self._full_items(ctx, experiment, series, keys)
                first = next(items, None)  # read now, so that a failing first read is a 4xx
                items = itertools.chain([first] if first else [], items)
            else:
                items = self._display_items(ctx, experiment, series, keys, max_points, fmt)
                if fmt == "binary":
                    return _binary(request, wire.answer([item for _, item in items]))
                items = [(run, [text]) for run, text in items]
        except errors.PublicError as e:
            return _error(request, str(e), e.http_code)
        return _streamed(request, _runs_object(items), "application/json")

    def _display_items(self, ctx, experiment, series, keys, max_points, fmt="json"):
        """[(run, encoded)] of each key downsampled to `max_points`, encoded as JSON text or
        (fmt "binary") `wire.encode`d: kept while the series is unchanged, made from what was
        read ahead when it can be, else from the series' overview, else read whole batch by
        batch (one batch at most held)."""
        if fmt == "binary":
            cache, encode = self._binary_displays, wire.encode
        else:
            cache, encode = self._displays, lambda b: "".join(json_chunks(b))
        encoded = {}

        def keep(key, display):
            encoded[key] = encode(_for_display(display, max_points))
            cache.put(experiment, (key, max_points), series[key].fingerprint, encoded[key])

        for key in keys:
            hit = cache.get(experiment, (key, max_points), series[key].fingerprint)
            if hit is not None:
                encoded[key] = hit
        missing = [k for k in keys if k not in encoded]
        for key, display in self._displays_of(ctx, experiment, series, missing, max_points):
            keep(key, display)
        return [(key.run, encoded[key]) for key in keys if key in encoded]

    def _displays_of(self, ctx, experiment, series, keys, max_points):
        """(key, breakdown) of `keys` for a display of `max_points`, each from the cheapest
        source it has: what was read ahead, else its overview, else every row (read batch by
        batch, one batch of full breakdowns held at a time). Not yet downsampled."""
        left = []
        for key in keys:
            display = self._display(experiment, key, series, max_points)
            if display is None:
                left.append(key)
            else:
                yield key, display
        displays = reader.read_displays(self._data_provider, ctx, experiment, left, series,
                                        max_points)
        yield from displays.items()
        for batch in reader.read_batches([k for k in left if k not in displays], series):
            yield from reader.read_breakdowns(self._data_provider, ctx, experiment, batch,
                                              series, cache=self._breakdowns).items()

    def _full_items(self, ctx, experiment, series, keys):
        """(run, JSON chunks) of every step of each key, a batch read when it is reached: one
        batch of breakdowns in memory at a time."""
        for i, batch in enumerate(reader.read_batches(keys, series)):
            try:
                breakdowns = reader.read_breakdowns(self._data_provider, ctx, experiment, batch,
                                                    series, cache=self._breakdowns)
            except errors.PublicError as e:
                if i == 0:
                    raise
                logger.error("detloss: breakdown_multirun stopped: %s", e)  # answer started
                return
            for key in batch:
                if key in breakdowns:
                    yield key.run, json_chunks(breakdowns[key])

    @_application
    def _serve_warnings(self, request):
        try:
            run = _param(request.args, "run", required=True)
            name = _param(request.args, "name")
            ctx = plugin_util.context(request.environ)
            experiment = plugin_util.experiment_id(request.environ)
            series = self._list_series(ctx, experiment)
            keys = _keys_of_loss(series, run, name)
            warnings = self._warnings(
                experiment, keys, series, lambda: reader.read_breakdowns(
                    self._data_provider, ctx, experiment, keys, series, cache=self._breakdowns))
        except errors.PublicError as e:
            return _error(request, str(e), e.http_code)
        body = {"run": run, "name": keys[0].name, "warnings": warnings}
        return http_util.Respond(request, body, "application/json")

    # -- warming -------------------------------------------------------------------------------

    def _schedule_warm(self, ctx, experiment):
        """Asks the warming thread (started on first use) to read what changed."""
        with self._warm_lock:
            self._warm_request = (ctx, experiment)
            self.warm_idle.clear()
            if self._warm_thread is None or not self._warm_thread.is_alive():
                self._warm_thread = threading.Thread(target=self._warm_loop, daemon=True,
                                                     name="detloss-warm")
                self._warm_thread.start()

    def _warm_loop(self):
        while True:
            with self._warm_lock:
                request, self._warm_request = self._warm_request, None
                if request is None:
                    self._warm_thread = None
                    self.warm_idle.set()
                    return
            started = time.monotonic()
            try:
                self._warm_once(*request)
            except Exception:  # warming is an optimisation: requests still read what they need
                logger.exception("detloss: reading ahead failed")
            time.sleep(max(0.0, WARM_INTERVAL - (time.monotonic() - started)))

    def _warm_once(self, ctx, experiment):
        series = self._list_series(ctx, experiment)
        todo = [k for k in sorted(series) if not series[k].imported
                and self._warm.get(experiment, k, series[k].fingerprint) is None]
        losses = collections.Counter((k.run, k.name) for k in series)
        for batch in reader.read_batches(todo, series):
            breakdowns = reader.read_breakdowns(self._data_provider, ctx, experiment, batch,
                                                series)
            by_loss = collections.defaultdict(dict)
            for key, b in breakdowns.items():
                self._warm.put(experiment, key, series[key].fingerprint,
                               _for_display(b, WARM_POINTS))
                by_loss[(key.run, key.name)][key] = b
            for loss, parts in by_loss.items():
                if len(parts) == losses[loss]:  # every split of the loss is in this batch
                    self._warnings(experiment, list(parts), series, lambda parts=parts: parts)
            del breakdowns, by_loss

    def _display(self, experiment, key, series, max_points):
        """A display breakdown from what was read ahead, or None."""
        if max_points is None or max_points > WARM_POINTS:
            return None
        warm = self._warm.get(experiment, key, series[key].fingerprint)
        return None if warm is None else _for_display(warm, max_points)

    def _warnings(self, experiment, keys, series, read):
        """The warnings JSON of one loss (all its `keys`): reused while the data of every split
        is unchanged, else computed from `read()` ({key: breakdown})."""
        keys = tuple(sorted(keys))
        prints = [series[k].fingerprint for k in keys]
        fingerprint = None if None in prints else tuple(prints)
        warnings = self._findings.get(experiment, keys, fingerprint)
        if warnings is None:
            breakdowns = read()
            lock, diagnoser = self._diagnoser(experiment, keys[0].run, keys[0].name)
            with lock:
                findings = diagnoser.update({k.split: breakdowns[k] for k in keys})
            warnings = [f.to_json() for f in findings]
            self._findings.put(experiment, keys, fingerprint, warnings)
        return warnings

    def _diagnoser(self, experiment, run, name):
        """The (lock, Diagnoser) of one loss of one run; at most 256 kept, least recent out."""
        key = (experiment, run, name)
        with self._listing_lock:
            entry = self._diagnosers.get(key)
            if entry is None:
                entry = self._diagnosers[key] = (threading.Lock(), diagnostics.Diagnoser())
            self._diagnosers.move_to_end(key)
            while len(self._diagnosers) > 256:
                self._diagnosers.popitem(last=False)
        return entry

    @_application
    def _serve_attribution(self, request):
        try:
            run = _param(request.args, "run", required=True)
            split = _param(request.args, "split", required=True)
            name = _param(request.args, "name")
            from_step = _int_param(request.args, "from")
            to_step = _int_param(request.args, "to")
            if from_step >= to_step:
                raise errors.InvalidArgumentError(
                    "from must be less than to, got from=%d to=%d" % (from_step, to_step))
            breakdown = self._read_one(request, run, split, name)
            try:
                result = diagnostics.attribution(breakdown, from_step, to_step)
            except ValueError as e:
                raise errors.NotFoundError("run %r, split %r: %s" % (run, split, e))
        except errors.PublicError as e:
            return _error(request, str(e), e.http_code)
        result.update(run=run, name=breakdown.key.name, split=split,
                      summary=diagnostics.summarize_attribution(result))
        return http_util.Respond(request, result, "application/json")


class DetlossLoader(base_plugin.TBLoader):
    """Gives detloss data (and the scalars it imports) a keep-everything sampling default, adds
    `--detloss_profile`, then loads the plugin.

    Out of the box TensorBoard keeps 10 (multiplexer) or 100 (data server) points per tag
    for a third-party plugin's tensors, and 1000 per scalar tag. `fix_flags` runs before
    either loader is built and both read `flags.samples_per_plugin`: it sets `detloss=0`
    (keep all) and `scalars=SCALAR_SAMPLES` unless the user gave them explicitly
    (docs/IMPORT.md has the measured memory cost and the reasoning).
    """

    def define_flags(self, parser):
        group = parser.add_argument_group(metadata.PLUGIN_NAME)
        group.add_argument(
            "--detloss_profile",
            metavar="PATH",
            type=str,
            default="",
            help="detloss: a JSON file mapping framework scalars to loss breakdowns "
            "(docs/IMPORT.md). Default: %s in the --logdir, if it exists."
            % importers.CONFIG_FILENAME,
        )

    def fix_flags(self, flags):
        samples = getattr(flags, "samples_per_plugin", None)
        if isinstance(samples, dict):
            samples.setdefault(metadata.PLUGIN_NAME, 0)
            samples.setdefault(reader.SCALARS_PLUGIN, SCALAR_SAMPLES)
        elif samples is None or samples == "":
            flags.samples_per_plugin = {
                metadata.PLUGIN_NAME: 0, reader.SCALARS_PLUGIN: SCALAR_SAMPLES}

    def load(self, context):
        return DetlossPlugin(context)


def _config_path(flags):
    """The override file: --detloss_profile, else detloss_profile.json in --logdir, else None."""
    path = getattr(flags, "detloss_profile", "") or ""
    if path:
        return os.path.expanduser(path)
    logdir = getattr(flags, "logdir", "") or ""
    if logdir and "://" not in logdir:
        return os.path.join(os.path.expanduser(logdir), importers.CONFIG_FILENAME)
    return None


# -- helpers ---------------------------------------------------------------------------------


def _error(request, message, code):
    return http_util.Respond(request, message, "text/plain", code=code)


def _form_too_large(request):
    return _error(
        request,
        "form too large: %d bytes; the limits are %d bytes in all, %d bytes of fields and %d "
        "multipart parts" % (request.content_length or 0, request.max_content_length or 0,
                             request.max_form_memory_size or 0, request.max_form_parts or 0),
        413,
    )


def _check_length(field, value):
    if len(value) > _MAX_PARAM_LENGTH:
        raise errors.InvalidArgumentError(
            "%s is %d characters long; the limit is %d" % (field, len(value), _MAX_PARAM_LENGTH)
        )


def _param(args, field, required=False):
    values = args.getlist(field)
    if len(values) > 1:
        raise errors.InvalidArgumentError("%s given %d times; give it once" % (field, len(values)))
    if not values:
        if required:
            raise errors.InvalidArgumentError("missing parameter %r" % field)
        return None
    _check_length(field, values[0])
    return values[0]


def _max_points(args):
    text = _param(args, "max_points")
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise errors.InvalidArgumentError("max_points must be an integer, got %r" % text[:100])
    if value < 2:
        raise errors.InvalidArgumentError("max_points must be at least 2, got %d" % value)
    return value


def _check_binary(fmt, max_points):
    if fmt == "binary" and max_points is None:
        raise errors.InvalidArgumentError(
            "format=binary is the tab's display format: give max_points too (exports: json, csv)")


def _binary(request, data):
    """A 200 answer in the binary display format (wire.py), with Respond's headers."""
    return wrappers.Response(data, status=200, content_type=wire.CONTENT_TYPE, headers=[
        ("X-Content-Type-Options", "nosniff"), ("Expires", "0"),
        ("Cache-Control", "no-cache, must-revalidate")])


def _for_display(breakdown, max_points):
    """`breakdown`, downsampled to at most `max_points` steps if asked (extremes kept)."""
    if max_points is None or len(breakdown.steps) <= max_points:
        return breakdown
    return breakdown.select(reader.display_indices(breakdown, max_points))


def _int_param(args, field):
    text = _param(args, field, required=True)
    try:
        return int(text)
    except ValueError:
        raise errors.InvalidArgumentError("%s must be an integer step, got %r" % (field, text[:100]))


def _keys_of_loss(series, run, name):
    """Every split's SeriesKey of one loss of `run` (name resolved as in `_resolve`)."""
    names = sorted({k.name for k in series if k.run == run})
    if not names:
        raise errors.NotFoundError("no detloss data for run %r" % run)
    if name is None:
        any_split = next(k.split for k in series if k.run == run)
        name = _resolve(series, run, any_split, None).name
    elif name not in names:
        raise errors.NotFoundError(
            "run %r has no loss named %r (it has %s)"
            % (run, name, ", ".join(repr(n) for n in names)))
    return sorted(k for k in series if k.run == run and k.name == name)


def _resolve(series, run, split, name):
    """The SeriesKey for a request, or NotFound/InvalidArgument naming what is missing."""
    names = sorted({k.name for k in series if k.run == run})
    if not names:
        raise errors.NotFoundError("no detloss data for run %r" % run)
    if name is None:
        if metadata.DEFAULT_NAME in names:
            name = metadata.DEFAULT_NAME
        elif len(names) == 1:
            name = names[0]
        else:
            raise errors.InvalidArgumentError(
                "run %r logs several losses (%s); pass name="
                % (run, ", ".join(repr(n) for n in names))
            )
    elif name not in names:
        raise errors.NotFoundError(
            "run %r has no loss named %r (it has %s)"
            % (run, name, ", ".join(repr(n) for n in names))
        )
    key = reader.SeriesKey(run, name, split)
    if key not in series:
        splits = sorted({k.split for k in series if k.run == run and k.name == name})
        raise errors.NotFoundError(
            "run %r, loss %r has no split %r (it has %s)"
            % (run, name, split, ", ".join(repr(s) for s in splits))
        )
    return key


def _column(array, present):
    """A JSON-ready list: floats (NaN/Inf stay floats; Respond encodes them) and None where absent."""
    return [v if p else None for v, p in zip(array.tolist(), present.tolist())]


# Full data is streamed: a JSON column _CHUNK_ROWS steps at a time, CSV about _CHUNK_CELLS
# cells at a time, sent in pieces of about _CHUNK_BYTES: an answer of any length holds one
# chunk, never the whole answer.
_CHUNK_ROWS = 1 << 15
_CHUNK_CELLS = 1 << 18
_CHUNK_BYTES = 1 << 18


def _streamed(request, chunks, content_type):
    """A streamed 200 answer of the str `chunks` (UTF-8; gzip, level 3 as TensorBoard's own
    `Respond`, if the client accepts it), with Respond's nosniff and no-cache headers."""
    gzip_ok = request.accept_encodings["gzip"] > 0

    def body():
        gz = zlib.compressobj(3, zlib.DEFLATED, 31) if gzip_ok else None
        pending, size = [], 0
        for text in chunks:
            pending.append(text)
            size += len(text)
            if size >= _CHUNK_BYTES:
                data = "".join(pending).encode("utf-8")
                pending, size = [], 0
                data = gz.compress(data) if gz else data
                if data:
                    yield data
        data = "".join(pending).encode("utf-8")
        yield gz.compress(data) + gz.flush() if gz else data

    headers = [("X-Content-Type-Options", "nosniff"), ("Expires", "0"),
               ("Cache-Control", "no-cache, must-revalidate")]
    if gzip_ok:
        headers.append(("Content-Encoding", "gzip"))
    return wrappers.Response(body(), status=200, headers=headers, content_type=content_type)


def _json_array(n, rows):
    """A JSON array of n items, `rows(i, j)` giving the list of items i..j-1; non-finite
    numbers as the strings "NaN", "Infinity", "-Infinity" (as TensorBoard's JSON)."""
    yield "["
    for i in range(0, n, _CHUNK_ROWS):
        items = rows(i, min(n, i + _CHUNK_ROWS))
        try:
            text = json.dumps(items, allow_nan=False)
        except ValueError:
            text = json.dumps(json_util.Cleanse(items))
        yield (", " if i else "") + text[1:-1]
    yield "]"


def _column_rows(array, present):
    return lambda i, j: _column(array[i:j], present[i:j])


def json_chunks(breakdown):
    """The breakdown's JSON object (docs/API.md), as str chunks."""
    b = breakdown
    n = len(b.steps)
    yield "{%s, " % json.dumps({"run": b.key.run, "name": b.key.name, "split": b.key.split,
                                "components": list(b.components)})[1:-1]
    yield '"steps": '
    yield from _json_array(n, lambda i, j: b.steps[i:j].tolist())
    yield ', "wall_times": '
    yield from _json_array(n, lambda i, j: b.wall_times[i:j].tolist())
    for field, columns in (("values", b.values), ("weights", b.weights)):
        yield ', "%s": {' % field
        for k, c in enumerate(b.components):
            yield "%s%s: " % (", " if k else "", json.dumps(c))
            yield from _json_array(n, _column_rows(columns[c], b.present[c]))
        yield "}"
    yield ', "total": '
    if b.total is None:
        yield "null"
    else:
        yield from _json_array(n, _column_rows(b.total, b.total_present))
    yield ', "num_steps": %d, "downsampled": %s' % (b.num_steps, json.dumps(n < b.num_steps))
    if b.notes:
        yield ', "notes": %s' % json.dumps(list(b.notes))
    yield "}"


def _runs_object(items):
    """`{run: breakdown JSON}` as str chunks, from (run, chunks of its JSON) pairs."""
    yield "{"
    for i, (run, chunks) in enumerate(items):
        yield "%s%s: " % (", " if i else "", json.dumps(run))
        yield from chunks
    yield "}"


def to_json(breakdown):
    """The breakdown's JSON object, parsed (for tests and tools; the routes stream it)."""
    return json.loads("".join(json_chunks(breakdown)))


def _csv_text(s):
    """A text cell: prefixed with a quote if a spreadsheet would read it as a formula, and
    quoted (RFC 4180) if it holds a comma, a quote, a CR or a LF. The csv module with "\n"
    line endings leaves a lone CR unquoted, which starts a new row in a spreadsheet."""
    if s[:1] in ("=", "+", "-", "@", "\t", "\r"):
        s = "'" + s
    if any(ch in s for ch in ',"\r\n'):
        s = '"%s"' % s.replace('"', '""')
    return s


def csv_chunks(breakdown):
    """step, wall_time, then value and weight per component, then total (empty = absent)."""
    b = breakdown
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    header = ["step", "wall_time"]
    for c in b.components:
        header += [_csv_text("%s value" % c), _csv_text("%s weight" % c)]
    header.append("total")
    out.write(",".join(header) + "\n")  # cells quoted by _csv_text
    n = len(b.steps)
    rows = max(1, _CHUNK_CELLS // len(header))
    for i in range(0, n, rows):
        j = min(n, i + rows)
        columns = []
        for c in b.components:
            columns += [_column(b.values[c][i:j], b.present[c][i:j]),
                        _column(b.weights[c][i:j], b.present[c][i:j])]
        columns.append(_column(b.total[i:j], b.total_present[i:j])
                       if b.total is not None else [None] * (j - i))
        for r, (step, wall) in enumerate(zip(b.steps[i:j].tolist(), b.wall_times[i:j].tolist())):
            w.writerow([step, repr(wall)]
                       + ["" if col[r] is None else repr(col[r]) for col in columns])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()


def to_csv(breakdown):
    return "".join(csv_chunks(breakdown))
