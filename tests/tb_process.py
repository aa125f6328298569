"""Start and stop a real `tensorboard` process for tests and benchmarks."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TensorBoard:
    """A `tensorboard` subprocess on 127.0.0.1 with one loader (load_fast true or false)."""

    def __init__(self, logdir, load_fast, extra_args=(), log_path=None):
        self.logdir = str(logdir)
        self.load_fast = load_fast
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self._log_path = log_path or os.path.join(
            self.logdir, "..", "tensorboard-%s-%d.log" % (load_fast, self.port)
        )
        self._log = open(self._log_path, "wb")
        args = [
            sys.executable, "-m", "tensorboard.main",
            "--logdir", self.logdir,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--load_fast", "true" if load_fast else "false",
            "--reload_interval", "1",
            *extra_args,
        ]
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)

    def log_text(self):
        self._log.flush()
        with open(self._log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("tensorboard exited early:\n" + self.log_text())
            try:
                urllib.request.urlopen(self.url + "/data/plugins_listing", timeout=5).read()
                return self
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                time.sleep(0.2)
        raise RuntimeError("tensorboard did not start in %ss:\n%s" % (timeout, self.log_text()))

    def request(self, path, data=None, timeout=60):
        """(status, content_type, body bytes) for GET path, or POST if data (a list of pairs)."""
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(self.url + path, data=body)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def rss_kib(pid):
    """Resident memory of `pid` and all its descendants, in KiB (from /proc)."""
    total = 0
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
        stack += children.get(p, [])
    return total
