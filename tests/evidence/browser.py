"""Headless Chromium for the offline tests: load a file, record every network request it tries."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import socketserver
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
REFUSAL = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
REFUSAL = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def find_chromium() -> str | None:
    """The Chromium executable on PATH, if any."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class _Recorder(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[str] = []
        self.lock = threading.Lock()


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        # The browser talks to us as its proxy: the first line names the host it wanted
        # (CONNECT host:443 for https, GET http://host/... for http). Nothing is forwarded.
        try:
            line = self.rfile.readline(4096).decode("latin-1").strip()
        except (TimeoutError, OSError):
            return
        if line:
            server = self.server
            assert isinstance(server, _Recorder)
            with server.lock:
                server.requests.append(line)
        with contextlib.suppress(OSError):
            self.wfile.write(REFUSAL)


@contextmanager
def _recorder() -> Iterator[_Recorder]:
    server = _Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _Pipe:
    """Chrome DevTools Protocol over --remote-debugging-pipe (JSON messages ended by NUL)."""

    def __init__(self, to_chrome: int, from_chrome: int) -> None:
        self.to_chrome = to_chrome
        self.from_chrome = from_chrome
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self.from_chrome], [], [], left)
            if ready:
                chunk = os.read(self.from_chrome, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buffer += chunk
        raw, _, self.buffer = self.buffer.partition(b"\0")
        return dict(json.loads(raw))

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with contextlib.suppress(TimeoutError):
            while True:
                self.events.append(self._read_message(deadline))


def load_offline(
    chromium: str,
    page: Path,
    settle_s: float = 4.0,
    ready_js: str | None = None,
    evaluate: dict[str, Any] | None = None,
) -> tuple[str, list[str]]:
    """Load page in headless Chromium with the network blocked; (DOM, URLs the page requested).

    The page's requests are read from the DevTools protocol (Network.requestWillBeSent), so
    Chromium's own background traffic is not counted; the network is blocked by a proxy that
    refuses every connection, and name resolution is refused too. With `ready_js`, waits (up
    to a minute: slow shared machines) until that expression is true, then settle_s more.
    With `evaluate` ({name: JavaScript expression}), each expression's value after loading
    replaces its entry (JSON-serialisable values only).
    """
    with _recorder() as recorder, tempfile.TemporaryDirectory() as profile:
        port = recorder.server_address[1]
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()

        def wire_fds() -> None:
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        args = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={profile}",
            f"--proxy-server=http://127.0.0.1:{port}",
            "--proxy-bypass-list=<-loopback>",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=wire_fds,
        )
        os.close(to_r)
        os.close(from_w)
        cdp = _Pipe(to_w, from_r)
        try:
            target = cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"
            ]
            cdp.call("Network.enable", session=session)
            cdp.call("Page.enable", session=session)
            cdp.call("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
            deadline = time.monotonic() + 60
            while ready_js and time.monotonic() < deadline:
                ready = cdp.call(
                    "Runtime.evaluate",
                    {"expression": f"Boolean({ready_js})", "returnByValue": True},
                    session=session,
                )
                if ready.get("result", {}).get("value") is True:
                    break
                cdp.pump(0.5)
            cdp.pump(settle_s)
            dom = cdp.call(
                "Runtime.evaluate",
                {"expression": "document.documentElement.outerHTML", "returnByValue": True},
                session=session,
            )["result"]["value"]
            for name, expression in list((evaluate or {}).items()):
                found = cdp.call(
                    "Runtime.evaluate",
                    {"expression": str(expression), "returnByValue": True, "awaitPromise": True},
                    session=session,
                )
                evaluate[name] = found.get("result", {}).get("value")  # type: ignore[index]
            with contextlib.suppress(RuntimeError, TimeoutError, OSError):
                cdp.call("Browser.close")
        finally:
            os.close(to_w)
            os.close(from_r)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        requests = [
            str(ev["params"]["request"]["url"])
            for ev in cdp.events
            if ev.get("method") == "Network.requestWillBeSent" and ev.get("sessionId") == session
        ]
        requests += [
            str(ev["params"]["url"])
            for ev in cdp.events
            if ev.get("method") == "Network.webSocketCreated" and ev.get("sessionId") == session
        ]
        page_url = page.resolve().as_uri()
        return str(dom), [u for u in requests if u != page_url and not u.startswith("data:")]
