"""Real servers on 127.0.0.1 that the fault tests break on purpose: an S3 proxy in front of
moto that fails requests, an authenticating proxy, a Slack API stand-in that rate-limits,
and an `mlflow server` process that can be killed and started again on the same port.
(Slack itself cannot be reached from here; everything else is the real client against a
real server.)"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

S3_FAULTS = [  # what S3 answers when it is overloaded or failing; botocore and pyarrow retry all
    (503, "SlowDown", "Please reduce your request rate."),
    (500, "InternalError", "We encountered an internal error. Please try again."),
    (503, "ServiceUnavailable", "Service is unable to handle request."),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FlakyS3:
    """A proxy to moto that, while `enabled`, fails the first attempt of every distinct
    request (method + path + query) with one of S3_FAULTS in turn; retries pass through."""

    def __init__(self, upstream: str) -> None:
        self.upstream, self.enabled, self.lock = upstream, False, threading.Lock()
        self.seen: set[tuple[str, str]] = set()
        self.injected = {"read": 0, "write": 0}
        self.passed = {"read": 0, "write": 0}
        self.codes: dict[str, int] = {}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                proxy.handle(self)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request_body(request)
        kind = "read" if request.command in ("GET", "HEAD") else "write"
        with self.lock:
            fail = self.enabled and (request.command, request.path) not in self.seen
            self.seen.add((request.command, request.path))
            if fail:
                status, code, message = S3_FAULTS[sum(self.injected.values()) % len(S3_FAULTS)]
                self.injected[kind] += 1
                self.codes[code] = self.codes.get(code, 0) + 1
            else:
                self.passed[kind] += 1
        if fail:
            payload = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
            request.send_response(status)
            request.send_header("Content-Length", str(len(payload)))
            request.end_headers()
            if request.command != "HEAD":
                request.wfile.write(payload)
            return
        _forward(request, self.upstream, body)

    def stop(self) -> None:
        self.server.shutdown()


def request_body(request: BaseHTTPRequestHandler) -> bytes:
    """The request body, de-chunked (botocore streams uploads with chunked encoding)."""
    if request.headers.get("Transfer-Encoding", "").lower() != "chunked":
        return request.rfile.read(int(request.headers.get("Content-Length") or 0))
    chunks = []
    while size := int(request.rfile.readline().split(b";")[0], 16):
        chunks.append(request.rfile.read(size))
        request.rfile.readline()
    while request.rfile.readline() not in (b"\r\n", b"\n", b""):
        pass  # trailers
    return b"".join(chunks)


def _forward(request: BaseHTTPRequestHandler, upstream: str, body: bytes) -> None:
    hop_by_hop = ("transfer-encoding", "expect", "connection")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in hop_by_hop}
    if body:
        headers["Content-Length"] = str(len(body))
    connection = http.client.HTTPConnection(urlsplit(upstream).netloc, timeout=60)
    connection.request(request.command, request.path, body=body or None, headers=headers)
    answer = connection.getresponse()
    payload = answer.read()
    connection.close()
    request.send_response(answer.status)
    for key, value in answer.getheaders():
        if key.lower() not in ("transfer-encoding", "connection", "content-length"):
            request.send_header(key, value)
    length = answer.getheader("Content-Length") if request.command == "HEAD" else None
    request.send_header("Content-Length", length or str(len(payload)))  # HEAD: the object's
    request.end_headers()
    if request.command != "HEAD":
        request.wfile.write(payload)


class BasicAuthProxy:
    """A reverse proxy that lets through only requests carrying `Authorization: <expected>`
    (401 otherwise) — MLflow behind an authenticating proxy, as deployments run it. Counts
    what it let through and what it refused."""

    def __init__(self, upstream: str, expected: str) -> None:
        self.upstream, self.expected = upstream, expected
        self.passed, self.refused = 0, 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = request_body(self)
                if self.headers.get("Authorization") != proxy.expected:
                    proxy.refused += 1
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                proxy.passed += 1
                _forward(self, proxy.upstream, body)

            do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeSlack:
    """chat.postMessage stand-in. `script` lists the statuses of the next answers (429s carry
    Retry-After: `retry_after`); after it, 200. `stop()` closes the port: connection refused."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.script: list[int] = []
        self.retry_after = "1"
        slack = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                status = slack.script.pop(0) if slack.script else 200
                slack.received.append(
                    {"status": status, "body": body, "auth": self.headers.get("Authorization")}
                )
                payload = {"ok": status == 200}
                if status == 429:
                    payload["error"] = "ratelimited"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if status == 429:
                    self.send_header("Retry-After", slack.retry_after)
                self.end_headers()
                self.wfile.write(json.dumps(payload).encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class MlflowServer:
    """`mlflow server` (SQLite backend, proxied local artifacts) in its own process group, so
    kill() takes down the uvicorn child too — a crash, not a polite shutdown."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None
        self.log = root / "server.log"

    def start(self) -> None:
        mlflow = Path(sys.executable).parent / "mlflow"
        command = [
            str(mlflow),
            "server",
            "--backend-store-uri",
            f"sqlite:///{self.root / 'mlflow.db'}",
            "--artifacts-destination",
            str(self.root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_up(self, timeout: float = 300) -> float:
        """Block until /health answers; return the seconds it took."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as answer:
                    if answer.status == 200:
                        return time.monotonic() - start
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"mlflow server not up after {timeout}s:\n{self.log.read_text()}")

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        while True:  # the port refuses connections once the child is gone too
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.2)
