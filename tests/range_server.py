"""A small threaded HTTP server on loopback serving one folder with ``Range`` requests honoured
(206 partial content) and every byte of response bodies counted: remote-read tests and benchmarks
measure what a lazy reader really fetches.

    with RangeServer(folder) as server:
        url = server.url("file.hdf5")
        ...
        server.bytes_sent, server.requests
"""
from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
COPY_BLOCK = 1 << 20


class RangeServer:
    """Serves ``root`` on ``http://127.0.0.1:<port>/``; counts bytes of bodies sent and requests."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.bytes_sent = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{name}"

    def reset(self) -> None:
        with self._lock:
            self.bytes_sent = self.requests = 0

    def _count(self, n_bytes: int, request: bool = False) -> None:
        with self._lock:
            self.bytes_sent += n_bytes
            self.requests += int(request)

    def __enter__(self) -> RangeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:      # quiet
                pass

            def _target(self) -> Path | None:
                path = (server.root / self.path.split("?", 1)[0].lstrip("/")).resolve()
                return path if path.is_file() and server.root.resolve() in path.parents else None

            def do_HEAD(self) -> None:
                self._respond(body=False)

            def do_GET(self) -> None:
                self._respond(body=True)

            def _respond(self, body: bool) -> None:
                server._count(0, request=True)
                path = self._target()
                if path is None:
                    self.send_error(404)
                    return
                size = path.stat().st_size
                start, stop = 0, size
                match = RANGE.match(self.headers.get("Range", ""))
                if match and (match[1] or match[2]):
                    if match[1]:
                        start, stop = int(match[1]), min(size, int(match[2]) + 1 if match[2] else size)
                    else:
                        start = max(0, size - int(match[2]))
                    if start >= size:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
                else:
                    self.send_response(200)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(stop - start))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if not body:
                    return
                with path.open("rb") as handle:
                    handle.seek(start)
                    remaining = stop - start
                    while remaining:
                        block = handle.read(min(COPY_BLOCK, remaining))
                        if not block:
                            break
                        try:
                            self.wfile.write(block)
                        except (BrokenPipeError, ConnectionResetError):
                            return
                        server._count(len(block))
                        remaining -= len(block)

        return Handler
