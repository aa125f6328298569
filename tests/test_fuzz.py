"""Hostile and generated HTTP requests against a real TensorBoard, under both loaders.

One TensorBoard per loader for the module. A seeded generator (deterministic) builds
REQUESTS_PER_LOADER raw HTTP requests to every route: valid ones, missing / repeated / huge /
non-UTF-8 / percent-garbage parameters, path traversal on the static route, injection strings,
unknown runs, wrong methods, huge form bodies, and numbers as 1e999 / NaN / negative.

Asserted: no 5xx; every 4xx body is non-empty text naming the problem; the static route
serves nothing but the package's own static files; a valid request still answers 200
afterwards; the TensorBoard process's RSS grows by less than RSS_GROWTH_LIMIT between the end
of a warm-up batch and the end of the run (docs/RELIABILITY.md has the measured figures).
"""

import collections
import json
import os
import random
import socket
import sys
from urllib.parse import quote

import pytest

import tensorboard_plugin_detloss as detloss
from conftest import LOADERS
from tb_process import TensorBoard

BASE = "/data/plugin/detloss"
REQUESTS_PER_LOADER = 1500
WARMUP = 300
# Measured growth after the warm-up is a few MB (docs/RELIABILITY.md). The requests after the
# warm-up carry more than 140 MB of payload (huge parameters and form bodies): a server that
# kept even a third of what it was sent would pass this bound.
RSS_GROWTH_LIMIT = 50 << 20
MIN_PAYLOAD_AFTER_WARMUP = 140 << 20
STATIC_DIR = os.path.join(os.path.dirname(detloss.__file__), "static")
STATIC_FILES = {
    name: open(os.path.join(STATIC_DIR, name), "rb").read() for name in os.listdir(STATIC_DIR)
}

WEIRD_RUN = "we<ird> run ü'\""
RUNS = {"alpha": ["train", "val"], "two_losses": ["train"], "one_step": ["train"],
        WEIRD_RUN: ["train"]}

INJECTIONS = [
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "javascript:alert(1)",
    "' OR '1'='1", "'; DROP TABLE runs; --", "${jndi:ldap://x/a}", "{{7*7}}", "%s%s%s%n",
    "$(id)", "`id`", "|cat /etc/passwd", "../../../../etc/passwd", "..\\..\\windows\\win.ini",
    "\u202e\u200b\ufeff", "=HYPERLINK(\"http://x\")", "@SUM(1+1)", "null", "undefined",
    "[]", "{}", "__proto__", "constructor", "NaN", "-0", "\x00", "\r\nX-Injected: 1",
]
NUMBERS = ["1e999", "-1e999", "NaN", "nan", "inf", "-inf", "Infinity", "-1", "-0", "0", "1",
           "2", "3", "0x10", "1.5", "1_000", "٣", " 7 ", "", "9" * 5000, "-" + "9" * 4000,
           "99999999999999999999999", "-99999999999999999999999", "1e3", "+5", "--1", "½"]
PERCENT_GARBAGE = ["%", "%%", "%zz", "%u0041", "%e2%82", "%ff%fe%fd", "%c0%ae%c0%ae", "%0",
                   "%%32%65", "%25%32%35", "%00", "%0d%0aSet-Cookie:x=1", "%C3%28", "%ED%A0%80"]
STATIC_ATTACKS = [
    "..%2fplugin.py", "..%2f..%2f..%2f..%2fetc%2fpasswd", "%2e%2e/plugin.py",
    "%2e%2e%2fplugin.py", "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%5cplugin.py",
    "%2fetc%2fpasswd", "/etc/passwd", "//etc/passwd", "../plugin.py", "../../plugin.py",
    "....//plugin.py", "..%00/plugin.py", "index.js%00", "index.js%00.png", "%00",
    "index.js/..%2f..%2fplugin.py", "%252e%252e%252fplugin.py", "..%c0%afplugin.py",
    ".", "..", "%2e", "%2e%2e", "", "index.js%2f", "%2fproc%2fself%2fenviron",
    "..;/plugin.py", "index.js?x=../plugin.py", "x" * 5000, "%ff%fe.js", "nope.js",
]


def _write_logdir(logdir):
    from tensorboard_plugin_detloss import summary

    with summary.FileWriter(os.path.join(logdir, "alpha")) as w:
        for step in range(60):
            for split in ("train", "val"):
                summary.write({"box": 1.0 / (step + 1), "cls": 0.5 + 0.01 * step,
                               "dfl": float("nan") if step == 30 else 0.2},
                              step=step, split=split, weights={"box": 7.5}, writer=w,
                              walltime=1_700_000_000 + step)
    with summary.FileWriter(os.path.join(logdir, "two_losses")) as w:
        for step in range(20):
            summary.write({"a": 1.0}, step=step, name="det", writer=w)
            summary.write({"b": 2.0}, step=step, name="aux", writer=w)
    with summary.FileWriter(os.path.join(logdir, "one_step")) as w:
        summary.write({"a": 1.0}, step=5, writer=w)
    with summary.FileWriter(os.path.join(logdir, WEIRD_RUN)) as w:
        for step in range(10):
            summary.write({"<b>x</b>": 1.0, "=cmd": 2.0}, step=step, writer=w)


def _wait_for_data(tb):
    import time

    deadline = time.time() + 120
    while time.time() < deadline:
        status, _, body = raw_request(tb.port, b"GET", _path("/runs"))
        if status == 200:
            runs = {(r["run"], r["split"]) for r in json.loads(body)}
            if all((run, s) in runs for run, splits in RUNS.items() for s in splits):
                return
        time.sleep(1)
    raise AssertionError("TensorBoard did not list the fuzz logdir:\n" + tb.log_text()[-3000:])


@pytest.fixture(scope="module", params=LOADERS)
def server(request, tmp_path_factory):
    logdir = tmp_path_factory.mktemp("fuzz") / "logdir"
    logdir.mkdir()
    _write_logdir(str(logdir))
    tb = TensorBoard(str(logdir), request.param).wait_ready()
    try:
        _wait_for_data(tb)
        yield tb
    finally:
        tb.stop()


# -- a raw HTTP client: sends exactly the bytes given (no URL validation or normalisation) ----


def _path(route, query=b""):
    path = (BASE + route).encode()
    return path + (b"?" + query if query else b"")


def raw_request(port, method, target, body=None, headers=(), timeout=30):
    """(status, headers dict, body bytes) for one request on its own connection."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1:%d" % port,
             b"Connection: close"]
    lines += list(headers)
    if body is not None:
        lines.append(b"Content-Length: %d" % len(body))
    data = b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered (e.g. 413) before reading the whole body
        chunks = []
        try:
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        except ConnectionResetError:
            if not chunks:
                raise
    response = b"".join(chunks)
    head, _, payload = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    status = int(status_line.split()[1])
    hdrs = {}
    for line in header_lines:
        k, _, v = line.partition(b":")
        hdrs[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        payload = _unchunk(payload)
    return status, hdrs, payload


def _unchunk(data):
    out = []
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(data[:size])
        data = data[size + 2:]
    return b"".join(out)


# -- the generator -------------------------------------------------------------------------


Req = collections.namedtuple("Req", "kind method target body headers")

FORM = [b"Content-Type: application/x-www-form-urlencoded"]


def _q(pairs):
    """A query string from (key, value) pairs; str values are percent-encoded, bytes raw."""
    parts = []
    for k, v in pairs:
        k = k if isinstance(k, bytes) else quote(k, safe="").encode()
        v = v if isinstance(v, bytes) else quote(v, safe="").encode()
        parts.append(k + b"=" + v)
    return b"&".join(parts)


def _valid_params(rng, route):
    run = rng.choice(list(RUNS))
    split = rng.choice(RUNS[run])
    params = {"run": run, "split": split}
    if run == "two_losses":
        params["name"] = rng.choice(["det", "aux"])
    if route == "/attribution":
        params.update({"from": "0", "to": str(rng.choice([5, 20, 59, 1000]))})
    if route == "/breakdown" and rng.random() < 0.5:
        params["max_points"] = str(rng.choice([2, 3, 10, 1000]))
    if route == "/breakdown" and rng.random() < 0.3:
        params["format"] = "csv"
    if route == "/warnings":
        params.pop("split")
    return params


def _hostile_value(rng):
    kind = rng.randrange(8)
    if kind == 0:
        return rng.choice(INJECTIONS)
    if kind == 1:
        return rng.choice(NUMBERS)
    if kind == 2:
        return rng.choice(PERCENT_GARBAGE).encode()  # raw: sent as is, not re-encoded
    if kind == 3:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))  # raw bytes
    if kind == 4:
        return "".join(chr(rng.choice([rng.randrange(0x20, 0x7f), rng.randrange(0x80, 0x2fff),
                                       rng.randrange(0xe000, 0x10ffff)]))
                       for _ in range(rng.randrange(1, 30)))
    if kind == 5:
        return "x" * rng.choice([1000, 20_000, 60_000])  # long, but the URL fits
    if kind == 6:
        return "unknown_" + str(rng.randrange(10 ** 6))
    return rng.choice(list(RUNS) + ["train", "val", "loss", "det"])


def _raw_query_bytes(value):
    """Raw bytes in a request target must not contain the HTTP framing characters."""
    return bytes(b for b in value if b not in b" \r\n\t#") or b"%"


def generate(seed, n):
    rng = random.Random(seed)
    get_routes = ["/runs", "/profiles", "/breakdown", "/warnings", "/attribution"]
    out = []
    while len(out) < n:
        kind = rng.choices(
            ["valid", "missing", "repeated", "hostile", "huge_get", "huge_form", "multipart",
             "numbers", "static", "method", "multirun", "unknown_route"],
            weights=[10, 8, 6, 20, 3, 6, 3, 10, 10, 6, 12, 2])[0]
        route = rng.choice(get_routes)
        if kind == "valid":
            out.append(Req(kind, b"GET", _path(route, _q(_valid_params(rng, route).items())),
                           None, []))
        elif kind == "missing":
            params = _valid_params(rng, route)
            for k in rng.sample(list(params), rng.randrange(0, len(params) + 1)):
                del params[k]
            out.append(Req(kind, b"GET", _path(route, _q(params.items())), None, []))
        elif kind == "repeated":
            pairs = list(_valid_params(rng, route).items())
            if pairs:
                pairs += [rng.choice(pairs)] * rng.randrange(1, 4)
            rng.shuffle(pairs)
            out.append(Req(kind, b"GET", _path(route, _q(pairs)), None, []))
        elif kind == "hostile":
            params = _valid_params(rng, route)
            fields = list(params) + ["run", "split", "name", "format", "max_points", "from", "to"]
            pairs = list(params.items())
            for _ in range(rng.randrange(1, 4)):
                field = rng.choice(fields)
                pairs = [(k, v) for k, v in pairs if k != field]
                value = _hostile_value(rng)
                if isinstance(value, bytes):
                    value = _raw_query_bytes(value)
                pairs.append((field, value))
            if rng.random() < 0.2:  # garbage keys and separators too
                pairs.append((_raw_query_bytes(bytes(rng.randrange(256) for _ in range(5))),
                              b"=&&=="))
            out.append(Req(kind, b"GET", _path(route, _q(pairs)), None, []))
        elif kind == "huge_get":
            # >= 100 KB in the URL: refused before or by the plugin, never a 5xx.
            params = _valid_params(rng, route)
            params[rng.choice(list(params) or ["run"])] = "y" * rng.choice([100_001, 150_000])
            out.append(Req(kind, b"GET", _path(route, _q(params.items())), None, []))
        elif kind == "huge_form":
            form = [("split", "train")]
            choice = rng.randrange(4)
            if choice == 0:  # one field over the plugin's 100,000-character limit
                form.append(("runs", "z" * 100_001))
            elif choice == 1:  # one very large field
                form.append(("runs", "z" * 4_000_000))
            elif choice == 2:  # very many fields
                form += [("runs", "r%d" % i) for i in range(60_000)]
            else:  # a huge split
                form = [("runs", "alpha"), ("split", "s" * 2_000_000)]
            out.append(Req(kind, b"POST", _path("/breakdown_multirun"), _q(form), FORM))
        elif kind == "multipart":
            boundary = b"fuzzb0undary"
            n_parts = rng.choice([1, 3, 2000])
            parts = []
            for i in range(n_parts):
                name, value = (b"runs", b"alpha") if i % 2 == 0 else (b"split", b"train")
                if rng.random() < 0.1:
                    value = bytes(rng.randrange(256) for _ in range(50))
                parts.append(b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\""
                             + name + b"\"\r\n\r\n" + value + b"\r\n")
            body = b"".join(parts) + (b"--" + boundary + b"--\r\n" if rng.random() < 0.8 else b"")
            headers = [b"Content-Type: multipart/form-data; boundary=" + boundary]
            out.append(Req(kind, b"POST", _path("/breakdown_multirun"), body, headers))
        elif kind == "numbers":
            params = _valid_params(rng, rng.choice(["/breakdown", "/attribution"]))
            route = "/attribution" if "from" in params else "/breakdown"
            field = rng.choice(["from", "to"] if route == "/attribution" else ["max_points"])
            params[field] = rng.choice(NUMBERS)
            out.append(Req(kind, b"GET", _path(route, _q(params.items())), None, []))
        elif kind == "static":
            attack = rng.choice(STATIC_ATTACKS).encode()
            prefix = rng.choice([b"/static/", b"/static/x/", b"/index.js/", b"/static"])
            out.append(Req(kind, b"GET", (BASE.encode() + prefix + attack), None, []))
        elif kind == "method":
            method = rng.choice([b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"HEAD",
                                 b"TRACE", b"FOO", b"GET"])
            route = rng.choice(get_routes + ["/breakdown_multirun", "/index.js"])
            body = _q([("runs", "alpha"), ("split", "train")]) if rng.random() < 0.5 else None
            out.append(Req(kind, method, _path(route, _q(_valid_params(rng, "/breakdown")
                                                         .items())), body, FORM))
        elif kind == "multirun":
            pairs = []
            for _ in range(rng.randrange(0, 5)):
                pairs.append(("runs", rng.choice(list(RUNS) + [_hostile_value(rng)])))
            if rng.random() < 0.9:
                pairs.append(("split", rng.choice(["train", "val", _hostile_value(rng)])))
            if rng.random() < 0.3:
                pairs.append(("name", rng.choice(["loss", "det", _hostile_value(rng)])))
            if rng.random() < 0.3:
                pairs.append(("max_points", rng.choice(NUMBERS)))
            pairs = [(k, v if isinstance(v, str) else v.decode("latin-1")) for k, v in pairs]
            body = _q(pairs)
            if rng.random() < 0.2:  # a body that is not a form at all
                body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
            headers = FORM if rng.random() < 0.9 else [b"Content-Type: text/garbage"]
            out.append(Req(kind, b"POST", _path("/breakdown_multirun"), body, headers))
        else:
            out.append(Req(kind, b"GET", _path(rng.choice(["/nope", "/runs/x", "/breakdown/",
                                                          "/../../data/runs", "/%00"])), None, []))
    return out


# -- the test --------------------------------------------------------------------------------


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % pid)


def _check(req, status, headers, body):
    where = "%s %s (%s)" % (req.method.decode(), req.target[:300], req.kind)
    assert status < 500, "%s -> %d: %r" % (where, status, body[:2000])
    if 400 <= status < 500 and req.method != b"HEAD":
        text = body.decode("utf-8", "replace").strip()
        assert text, "%s -> %d with an empty body" % (where, status)
    if req.kind == "static" and status == 200:
        assert body in STATIC_FILES.values(), "%s served a file outside static/" % where
    if req.kind == "static":
        assert b"import csv" not in body and b"root:" not in body, where


def _run_batch(tb, reqs, stats):
    for req in reqs:
        status, headers, body = raw_request(tb.port, req.method, req.target, req.body,
                                            req.headers)
        _check(req, status, headers, body)
        stats[(req.kind, status)] += 1


def _payload(reqs):
    return sum(len(r.target) + len(r.body or b"") for r in reqs)


def test_fuzz_routes(server):
    tb = server
    reqs = generate(seed=9, n=REQUESTS_PER_LOADER)
    assert _payload(reqs[WARMUP:]) >= MIN_PAYLOAD_AFTER_WARMUP
    stats = collections.Counter()  # (kind, status) -> requests
    _run_batch(tb, reqs[:WARMUP], stats)
    rss_warm = rss_bytes(tb.process.pid)
    _run_batch(tb, reqs[WARMUP:], stats)
    rss_end = rss_bytes(tb.process.pid)

    # Every kind of request was sent, and the plugin answered many of them itself.
    by_kind = collections.Counter()
    by_status = collections.Counter()
    for (kind, status), n in stats.items():
        by_kind[kind] += n
        by_status[status] += n
    assert set(by_kind) >= {"valid", "missing", "repeated", "hostile", "huge_get", "huge_form",
                            "multipart", "numbers", "static", "method", "multirun"}, stats
    assert stats[("valid", 200)] > 50, stats
    # The error paths are exercised (which 4xx a request gets depends on the Werkzeug version:
    # 3.1.9 parses some hostile queries and url-encoded forms differently from 3.1.8).
    assert stats[("hostile", 400)] + stats[("hostile", 404)] > 10, stats
    assert stats[("huge_form", 413)] + stats[("huge_form", 400)] > 15, stats
    assert stats[("static", 200)] > 0 and stats[("static", 404)] > 50, stats

    # Still answering, with the right data.
    status, _, body = raw_request(tb.port, b"GET", _path("/breakdown", b"run=alpha&split=val"))
    assert status == 200 and json.loads(body)["steps"] == list(range(60))
    growth = rss_end - rss_warm
    print("\nfuzz load_fast=%s: %d requests, %.1f MB payload (%.1f MB after the warm-up), "
          "RSS %.1f -> %.1f MB (%+.1f MB)\nstatuses: %s\nkinds: %s"
          % (tb.load_fast, len(reqs), _payload(reqs) / 2 ** 20,
             _payload(reqs[WARMUP:]) / 2 ** 20, rss_warm / 2 ** 20, rss_end / 2 ** 20,
             growth / 2 ** 20, sorted(by_status.items()), sorted(by_kind.items())),
          file=sys.stderr)
    assert growth < RSS_GROWTH_LIMIT, (rss_warm, rss_end)


def test_generator_is_deterministic():
    assert generate(9, 200) == generate(9, 200)


def test_hostile_static_paths_are_refused(server):
    """Each static attack on its own, so a failure names it."""
    tb = server
    for attack in STATIC_ATTACKS:
        for prefix in (b"/static/", b"/static/x/"):
            req = Req("static", b"GET", BASE.encode() + prefix + attack.encode(), None, [])
            status, headers, body = raw_request(tb.port, req.method, req.target)
            _check(req, status, headers, body)
            if attack not in ("index.js", "index.js?x=../plugin.py"):
                assert status == 404, (attack, status, body[:300])
    status, headers, body = raw_request(tb.port, b"GET", BASE.encode() + b"/index.js")
    assert status == 200 and body == STATIC_FILES["index.js"]


def test_unread_and_refused_bodies_do_not_hold_the_connection(server):
    """Regression: Werkzeug's server drained an unread body with a blocking 10 MB read, so
    the connection (and its thread) stayed open after the answer until the client gave up.
    raw_request reads until the server closes: it would time out here."""
    tb = server
    cases = [
        (b"POST", _path("/runs"), b"x" * 1_000_000, FORM, 200),
        (b"GET", _path("/breakdown", b"run=alpha&split=train"), b"y" * 300_000, FORM, 200),
        (b"POST", _path("/breakdown_multirun"), b"split=train&runs=" + b"z" * 600_000, FORM,
         413),
        (b"POST", _path("/breakdown_multirun"), b"runs=alpha&split=train", [b"Content-Type: x"],
         400),
        # A multipart file part is spooled to disk by Werkzeug: the body is bounded (16 MB).
        (b"POST", _path("/breakdown_multirun"),
         b"--bb\r\nContent-Disposition: form-data; name=\"runs\"; filename=\"f\"\r\n\r\n"
         + b"q" * 20_000_000 + b"\r\n--bb--\r\n",
         [b"Content-Type: multipart/form-data; boundary=bb"], 413),
    ]
    for method, target, body, headers, want in cases:
        status, _, answer = raw_request(tb.port, method, target, body, headers, timeout=20)
        assert status in (want if isinstance(want, tuple) else (want,)), (
            target, status, answer[:300])
    status, _, answer = raw_request(tb.port, b"POST", _path("/breakdown_multirun"),
                                    b"split=train&runs=" + b"z" * 600_000, FORM)
    assert b"form too large" in answer and b"500000" in answer, answer[:300]


def test_openapi_describes_every_route_and_the_fuzz_covers_them():
    """docs/openapi.yaml lists exactly the plugin's routes; the generator hits each one."""
    import re

    from tensorboard_plugin_detloss import plugin

    class Context:
        data_provider = None
        flags = None

    with open(os.path.join(os.path.dirname(__file__), "..", "docs", "openapi.yaml")) as f:
        text = f.read()
    described = set(re.findall(r"^  (/[^:\s]+):$", text, re.M))
    routes = set(plugin.DetlossPlugin(Context()).get_plugin_apps())
    assert described == {r.replace("/*", "/{file}") for r in routes}
    hit = set()
    for req in generate(9, REQUESTS_PER_LOADER):
        path = req.target.split(b"?")[0].decode("latin-1")[len(BASE):]
        for route in routes:
            if path == route or (route.endswith("/*") and path.startswith(route[:-1])):
                hit.add(route)
    assert hit == routes
