"""A real HTTP server on 127.0.0.1 for download tests: Range support, 404, dropped
connections, slow bodies, and a count of requests per path."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)
    """Path (``/name``) -> body."""
    drop_after: dict[str, int] = field(default_factory=dict)
    """Path -> number of bytes after which the next response is cut (once per entry)."""
    drops_left: Counter[str] = field(default_factory=Counter)
    """Path -> how many more responses to cut."""
    ignore_range: set[str] = field(default_factory=set)
    """Paths whose responses ignore ``Range`` and always send the whole body."""
    delay_per_chunk: float = 0.0
    """Seconds to sleep after each 4 KiB chunk (makes racing downloads overlap)."""
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    """Every request as ``(path, Range header)``."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def full_gets(self, path: str) -> int:
        with self.lock:
            return sum(1 for p, r in self.requests if p == path and r is None)


def _make_handler(state: ServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            range_header = self.headers.get("Range")
            with state.lock:
                state.requests.append((path, range_header))
                body = state.files.get(path)
                drop = None
                if state.drops_left[path] > 0:
                    state.drops_left[path] -= 1
                    drop = state.drop_after.get(path)
            if body is None:
                self.send_error(404, "Not Found")
                return
            start = 0
            if (
                range_header
                and range_header.startswith("bytes=")
                and path not in state.ignore_range
            ):
                start = int(range_header[len("bytes=") :].split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            payload = body[start:]
            self.send_header("Content-Length", str(len(payload)))
            # A server-chosen name that must never be trusted.
            self.send_header("Content-Disposition", 'attachment; filename="../../evil.txt"')
            self.end_headers()
            if drop is not None:
                self.wfile.write(payload[:drop])
                self.wfile.flush()
                self.close_connection = True
                return
            for i in range(0, len(payload), 4096):
                self.wfile.write(payload[i : i + 4096])
                if state.delay_per_chunk:
                    time.sleep(state.delay_per_chunk)

    return Handler


class LoopbackServer:
    """Serves :class:`ServerState` on an ephemeral port of 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        self.state = ServerState()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self.state))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
