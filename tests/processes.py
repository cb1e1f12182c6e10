"""Real processes for the multi-process test (tests/test_scale_out.py): start
them with their output in a log file, wait for them with a deadline, stop
them (terminate, then kill), and a tiny HTTP client on the standard library.

Each process gets its own session (process group), so that stopping a
gunicorn master or a ``flask worker`` also ends the children it forked
(gunicorn's workers, RQ's scheduler) and nothing outlives the test.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """One started process, its log file and how to stop it."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.log = log_dir / f"{name}.log"
        self._log_fh = open(self.log, "wb")
        self.popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                      stdout=self._log_fh, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def terminate(self) -> None:
        if self.alive():
            self.popen.terminate()

    def finish(self, timeout: float) -> None:
        """Wait for the process after ``terminate``; kill its group when it
        does not end in time, and any child left behind once it has."""
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill_group()
            self.popen.wait(timeout=10)
        # A child left in the group (the group id stays taken while one lives).
        try:
            os.killpg(self.popen.pid, 0)
        except (ProcessLookupError, PermissionError):
            pass
        else:
            self._kill_group()
        self._log_fh.close()

    def _kill_group(self) -> None:
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def stop_all(procs: list[Proc], timeout: float = 15.0) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.finish(timeout)


def tails(procs: list[Proc], lines: int = 40) -> str:
    return "\n".join(f"----- {p.name} (pid {p.pid}, exit {p.popen.poll()}): {p.log}\n{p.tail(lines)}"
                     for p in procs)


def wait_until(predicate, *, timeout: float, what: str, watch: list[Proc] = (), interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy (returned); fail
    with the logs when the deadline passes or a watched process exits."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        dead = [p for p in watch if not p.alive()]
        if dead:
            raise AssertionError(f"{', '.join(p.name for p in dead)} exited while waiting for {what}\n"
                                 + tails(dead))
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n" + tails(list(watch)))
        time.sleep(interval)


def run_cli(args: list[str], env: dict, *, timeout: float = 60.0) -> str:
    """``flask --app wsgi ARGS`` in the foreground; its standard output."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"flask {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def start_cli(args: list[str], env: dict) -> subprocess.Popen:
    """``flask --app wsgi ARGS`` without waiting (several at once)."""
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# ------------------------------------------------------------------ HTTP


class Response:
    def __init__(self, status: int, headers, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body) if self.body else None

    def __repr__(self) -> str:
        return f"<{self.status} {self.body[:300]!r}>"


class Web:
    """One web process, spoken to over HTTP with a bearer token."""

    def __init__(self, name: str, base: str) -> None:
        self.name, self.base = name, base

    def request(self, method: str, path: str, token: str | None = None, *, json_body=None,
                file: tuple[str, bytes] | None = None, timeout: float = 30.0) -> Response:
        headers, data = {}, None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif file is not None:
            boundary = uuid.uuid4().hex
            name, content = file
            data = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                    f"Content-Type: text/csv\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return Response(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, exc.headers, exc.read())

    def get(self, path, token=None, **kw) -> Response:
        return self.request("GET", path, token, **kw)

    def post(self, path, token=None, **kw) -> Response:
        return self.request("POST", path, token, **kw)

    def put(self, path, token=None, **kw) -> Response:
        return self.request("PUT", path, token, **kw)

    def answers(self) -> bool:
        """True once the server answers HTTP at all."""
        try:
            self.get("/api/v1/openapi.json", timeout=2)
            return True
        except OSError:
            return False

    def __repr__(self) -> str:
        return f"{self.name} ({self.base})"
