"""`detloss check LOGDIR`: the tab's warnings for every run, for CI and scripts.
`detloss import PATH...`: Ultralytics' results.csv and MMEngine's scalars.json as the TensorBoard
scalars those frameworks write when their TensorBoard logging is on (log_import.py).

Exit codes: 0 no finding at or above --fail-on; 1 findings at or above --fail-on;
2 unusable input (no such directory, or no loss breakdown in it).

It reads the logdir the way TensorBoard's Python loader does (the multiplexer, every point
kept) and then uses the same reader and diagnostics as the tab. One unreadable file never
stops the report: it is named under "skipped" and the rest is checked.
"""

import argparse
import concurrent.futures
import json
import os
import struct
import sys

from tensorboard_plugin_detloss import diagnostics, importers, log_import, metadata, reader
from tensorboard_plugin_detloss._crc32c import masked_crc32c

EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNUSABLE = 0, 1, 2
_MAX_CRC_CHECK_BYTES = 64 << 20  # data CRCs are checked in files up to this size


def _event_files(logdir):
    for root, _, files in os.walk(logdir):
        for f in sorted(files):
            if "tfevents" in f:
                yield os.path.join(root, f)


def scan_file(path):
    """A problem description if the TFRecord framing of `path` is damaged, else None."""
    try:
        size = os.path.getsize(path)
        check_data = size <= _MAX_CRC_CHECK_BYTES
        records = 0
        with open(path, "rb") as f:
            while True:
                header = f.read(12)
                if not header:
                    return None
                offset = f.tell() - len(header)
                if len(header) < 12:
                    return "truncated record header at byte %d after %d records" % (offset, records)
                (length,) = struct.unpack("<Q", header[:8])
                if struct.unpack("<I", header[8:])[0] != masked_crc32c(header[:8]):
                    return "corrupt record length at byte %d after %d records" % (offset, records)
                data = f.read(length)
                footer = f.read(4)
                if len(data) < length or len(footer) < 4:
                    return ("truncated record at byte %d after %d records (a file still being "
                            "written, or a crashed writer)" % (offset, records))
                if check_data and struct.unpack("<I", footer)[0] != masked_crc32c(data):
                    return ("corrupt record (CRC mismatch) at byte %d after %d records; the "
                            "records after it are not read" % (offset, records))
                records += 1
    except OSError as e:
        return "cannot be read: %s" % e


def load(logdir):
    """(data provider, skipped [(path, problem)]) for a local logdir, every point kept."""
    from tensorboard.backend.event_processing import data_provider as mux_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer

    skipped = [(p, problem) for p in _event_files(logdir) for problem in [scan_file(p)] if problem]
    # Every point, also of the framework scalars the importers read (TensorBoard keeps 10).
    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        tensor_size_guidance={metadata.PLUGIN_NAME: 0, reader.SCALARS_PLUGIN: 0})
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    return mux_provider.MultiplexerDataProvider(multiplexer, logdir), skipped


def check(logdir):
    """{"runs": [{"run", "name", "warnings": [...]}], "skipped": [...]} for a logdir."""
    from tensorboard import context

    provider, skipped = load(logdir)
    ctx = context.RequestContext()
    config = importers.load_config(os.path.join(logdir, importers.CONFIG_FILENAME))
    if config.error:
        skipped.append((config.path, "ignored: %s" % config.error))
    series = reader.list_series(provider, ctx, "", importers.Importer(config))
    losses = {}
    for key in series:
        losses.setdefault((key.run, key.name), []).append(key)
    def check_one(item):
        (run, name), keys = item
        try:
            breakdowns = reader.read_breakdowns(provider, ctx, "", keys, series)
            findings = diagnostics.diagnose({k.split: b for k, b in breakdowns.items()})
        except Exception as e:  # one odd run never kills the report
            return None, (run, "could not be checked: %s: %s" % (type(e).__name__, e))
        return {"run": run, "name": name, "splits": sorted(k.split for k in keys),
                "warnings": [f.to_json() for f in findings]}, None

    # numpy releases the GIL in the engine's big array operations: one thread per core, one
    # loss read at a time per thread (memory stays a few runs' worth).
    runs = []
    with concurrent.futures.ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        for result, problem in pool.map(check_one, sorted(losses.items())):
            if problem:
                skipped.append(problem)
            else:
                runs.append(result)
    return {"logdir": logdir, "runs": runs,
            "skipped": [{"path": p, "problem": problem} for p, problem in skipped]}


def _text(report, fail_on):
    lines = []
    for r in report["runs"]:
        head = "%s (%s; %s)" % (r["run"], r["name"], ", ".join(r["splits"]))
        if not r["warnings"]:
            lines.append("%s: no findings" % head)
            continue
        lines.append("%s:" % head)
        for w in r["warnings"]:
            where = w["component"] if w["component"] is not None else "total"
            lines.append("  %-7s %-14s %s [%s] steps %s–%s" % (
                w["severity"].upper(), w["kind"], where, w["split"],
                "{:,}".format(w["start_step"]), "{:,}".format(w["end_step"])))
            lines.append("          %s" % w["message"])
    for s in report["skipped"]:
        lines.append("skipped %s: %s" % (s["path"], s["problem"]))
    counts = _counts(report)
    lines.append("%d loss(es) in %d run(s) checked: %d error(s), %d warning(s), %d info; "
                 "failing on %s and above"
                 % (len(report["runs"]), len({r["run"] for r in report["runs"]}), counts["error"],
                    counts["warning"], counts["info"], fail_on))
    return "\n".join(lines)


def _counts(report):
    counts = {s: 0 for s in diagnostics.SEVERITIES}
    for r in report["runs"]:
        for w in r["warnings"]:
            counts[w["severity"]] += 1
    return counts


def import_main(paths, force=False):
    """`detloss import`: 0 every log imported (or already), 1 some could not be, 2 none found."""
    try:
        found = log_import.find(paths)
    except FileNotFoundError as e:
        print("detloss import: %s" % e, file=sys.stderr)
        return EXIT_UNUSABLE
    if not found:
        print("detloss import: no %s under %s" % (" or ".join(log_import.SOURCES),
                                                  ", ".join(paths)), file=sys.stderr)
        return EXIT_UNUSABLE
    failed = 0
    for path in found:
        try:
            result = log_import.import_file(path, force)
        except (ValueError, OSError) as e:  # LogError, UnicodeDecodeError among them
            failed += 1
            print("%s: not imported: %s" % (path, e), file=sys.stderr)
            continue
        print("%s: %s: %s" % (path, result.status, result.detail))
    if failed < len(found):
        # A directory to open: a file's own (its run), and what several paths share.
        dirs = [p if os.path.isdir(p) else os.path.dirname(p) or "." for p in paths]
        logdir = dirs[0] if len(dirs) == 1 else os.path.commonpath(
            [os.path.abspath(d) for d in dirs])
        print("open it: tensorboard --logdir %s" % logdir)
    return EXIT_FINDINGS if failed else EXIT_CLEAN


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="detloss", description="detloss: loss-breakdown diagnostics for TensorBoard logdirs")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="print the warnings of every run in a logdir",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("logdir")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--fail-on", choices=diagnostics.SEVERITIES, default="warning",
                   help="exit 1 when a finding of this severity or worse exists (default: warning)")
    p = sub.add_parser(
        "import", help="write Ultralytics results.csv and MMDetection/MMEngine scalars.json "
        "files as TensorBoard scalars beside them",
        description=" ".join(log_import.__doc__.split("\n\n")[1].split()))
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="a results.csv or scalars.json, or a directory searched for them")
    p.add_argument("--force", action="store_true",
                   help="import even where the run already has TensorBoard event files")
    args = parser.parse_args(argv)
    if args.command == "import":
        return import_main(args.paths, args.force)

    if not os.path.isdir(args.logdir):
        print("detloss check: %s is not a directory" % args.logdir, file=sys.stderr)
        return EXIT_UNUSABLE
    report = check(args.logdir)
    if args.format == "json":
        print(json.dumps(report, indent=1, default=str, allow_nan=True))
    else:
        print(_text(report, args.fail_on))
    if not report["runs"]:
        print("detloss check: no loss breakdown found in %s" % args.logdir, file=sys.stderr)
        logs = log_import.find([args.logdir])
        if logs:
            print("detloss check: it holds %d framework log(s) that are not TensorBoard files "
                  "(%s…): `detloss import %s` writes them as TensorBoard scalars first"
                  % (len(logs), logs[0], args.logdir), file=sys.stderr)
        return EXIT_UNUSABLE
    threshold = diagnostics.SEVERITIES.index(args.fail_on)
    counts = _counts(report)
    failing = sum(counts[s] for s in diagnostics.SEVERITIES[threshold:])
    return EXIT_FINDINGS if failing else EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main())
