"""Shared helpers for Tafel's integration tests.

The tests talk to a real `tafeld` the way an independent client would, from
docs/protocol.md and docs/permissions.md alone. Everything runs on 127.0.0.1,
every wait is bounded, and every process started here is ended here by its
PID (Popen.terminate/kill) in a cleanup.

Pieces:
  * tafeld_path(), run_tafeld(), init_data_dir(): the binary and its offline
    commands (init, key create, backup, --help, --version).
  * Server: `tafeld serve --listen 127.0.0.1:0`; reads the port from the
    "listening on http://127.0.0.1:PORT/" log line, keeps draining stderr and
    stdout into `lines`, stops with SIGTERM (then SIGKILL after 10 s).
  * http_get(), healthz(), metrics(): the HTTP side.
  * Client: an asyncio WebSocket client (Debian's python3-websockets 10.4).
    A background task reads every message: replies go to the request that
    waits for their `req`, everything else (events, snapshots, presence,
    replies nobody waits for) to `inbox`, in arrival order.
  * RawWS: a minimal blocking WebSocket client on a plain socket, for what a
    library will not send: invalid UTF-8, binary and fragmented frames,
    handshakes without the subprotocol, a reader that stops reading.
  * TafelCase: a unittest.TestCase with one initialised data directory and
    one running server per test class; async_test runs a coroutine test with
    an overall time limit and closes the clients it opened.

Run with /usr/bin/python3 (Debian's, for its websockets 10.4).
"""

import asyncio
import base64
import functools
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import websockets
import websockets.exceptions

TIMEOUT = 5.0  # default bound for any single wait
SUBPROTOCOL = "tafel.v1"
KEY_RE = re.compile(r"^tafel_[A-Za-z0-9_-]{43}$")
JOIN_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LISTEN_RE = re.compile(r"listening on https?://127\.0\.0\.1:(\d+)/")
ERROR_CODES = {"bad_request", "unauthorized", "forbidden", "not_found", "conflict",
               "too_large", "rate_limited", "unavailable", "internal"}
KINDS = ("opgave", "actielijn", "activiteit", "indicator", "meting", "reflectie", "sessie",
         "moment", "lid", "besluit")
ROLES = ("beheerder", "opgaveleider", "partner", "inwoner", "waarnemer")

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(os.path.dirname(_HERE))


# --------------------------------------------------------------- the binary

def tafeld_path():
    """The tafeld under test: $TAFELD, else a build directory of this tree."""
    p = os.environ.get("TAFELD")
    if p:
        return p
    for cand in ("build-int/server/tafeld", "build/server/tafeld"):
        full = os.path.join(_ROOT, cand)
        if os.access(full, os.X_OK):
            return full
    raise RuntimeError("tafeld not found: set TAFELD=/path/to/tafeld")


def tafel_path():
    """The tafel under test: $TAFEL, else a build directory of this tree."""
    cands = [os.environ.get("TAFEL")] + [os.path.join(_ROOT, d, "client-cli", "tafel")
                                          for d in ("build-int", "build")]
    found = [c for c in cands if c and os.access(c, os.X_OK)]
    if not found:
        raise RuntimeError("tafel not found: set TAFEL=/path/to/tafel")
    return found[0]


def run_tafeld(args, timeout=30, check=False):
    """Run `tafeld ARGS` to completion; returns CompletedProcess (text)."""
    cp = subprocess.run([tafeld_path()] + list(args), stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    cp.stdout = cp.stdout.decode("utf-8", "replace")
    cp.stderr = cp.stderr.decode("utf-8", "replace")
    if check and cp.returncode != 0:
        raise AssertionError("tafeld %s exited %d\nstdout: %s\nstderr: %s"
                             % (" ".join(args), cp.returncode, cp.stdout, cp.stderr))
    return cp


_HELP = {}


def _tafeld_help():
    """`tafeld --help` of the binary under test (once per process)."""
    path = tafeld_path()
    if path not in _HELP:
        _HELP[path] = run_tafeld(["--help"]).stdout
    return _HELP[path]


def last_line(text):
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def init_data_dir(path):
    """`tafeld init --data PATH`; returns the first beheerder key (last line)."""
    cp = run_tafeld(["init", "--data", path], check=True)
    key = last_line(cp.stdout)
    if not KEY_RE.match(key):
        raise AssertionError("init's last stdout line is not a key: %r" % key)
    return key


def tree_fingerprint(path):
    """{relative path: (size, sha256)} of every file under PATH."""
    out = {}
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            full = os.path.join(dirpath, f)
            with open(full, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
            out[os.path.relpath(full, path)] = (os.path.getsize(full), digest)
    return out


# ------------------------------------------------------------------ server

class Server:
    """One `tafeld serve` process on 127.0.0.1 with an OS-chosen port.

    `lines` collects everything the server ever wrote to stderr and stdout
    (across restarts), for assertions about the log."""

    def __init__(self, data_dir, args=(), default_args=True, env=None):
        self.data_dir = data_dir
        self.args = list(args)
        self.env = env  # the server's environment; None: this process's
        # Tests create documents in bulk; an unknown default write rate must
        # not interfere unless a test asks for one.
        if default_args and "--write-rate" not in self.args:
            self.args += ["--write-rate", "0"]
            # ... nor the per-session and per-address rates, where this
            # tafeld has them (a regression test may run an older one).
            for opt in ("--session-write-rate", "--address-write-rate"):
                if opt not in self.args and opt in _tafeld_help():
                    self.args += [opt, "0"]
        self.proc = None
        self.port = None
        self.lines = []
        self._lock = threading.Lock()
        self._threads = []

    def _drain(self, stream, name, ready):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self.lines.append(line)
            if ready is not None and not ready.is_set():
                m = LISTEN_RE.search(line)
                if m:
                    self.port = int(m.group(1))
                    ready.set()
        stream.close()

    def start(self, timeout=10.0):
        assert self.proc is None, "already running"
        self.port = None
        cmd = [tafeld_path(), "serve", "--data", self.data_dir, "--listen", "127.0.0.1:0"]
        cmd += self.args
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=self.env)
        ready = threading.Event()
        self._threads = [
            threading.Thread(target=self._drain, args=(self.proc.stderr, "stderr", ready),
                             daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stdout, "stdout", None),
                             daemon=True),
        ]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                rc = self.proc.poll()
                self.kill9()
                raise RuntimeError("tafeld serve did not report its port (exit %s); log:\n%s"
                                   % (rc, self.log_text()[-4000:]))
        return self.port

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _join_threads(self):
        for t in self._threads:
            t.join(timeout=2)
        self._threads = []

    def signal(self, sig):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout=10.0):
        """Wait for the process to exit; returns its exit code (kills it
        after `timeout` and returns None)."""
        if self.proc is None:
            return None
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            rc = None
        self._join_threads()
        self.proc = None
        return rc

    def stop(self, timeout=10.0):
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code,
        or None when it had to be killed."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.wait(timeout)

    def stop_clean(self, timeout=10.0):
        """Stop with SIGTERM and require exit code 0. Under ASan a leak or
        any memory error makes the exit code non-zero, so every test class
        that ends with this is also a leak check of the server."""
        if self.proc is None:
            return
        rc = self.stop(timeout)
        if rc != 0:
            raise AssertionError("tafeld exited %r after SIGTERM; its log ends:\n%s"
                                 % (rc, self.log_text()[-4000:]))

    def kill9(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._join_threads()
        self.proc = None

    def log_text(self):
        with self._lock:
            return "\n".join(self.lines)


# -------------------------------------------------------------------- HTTP

def http_get(port, path, headers=None, timeout=TIMEOUT):
    """GET http://127.0.0.1:PORT/PATH -> (status, {header: value}, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def healthz(port):
    status, _h, body = http_get(port, "/healthz")
    if status != 200:
        raise AssertionError("/healthz answered %d" % status)
    return json.loads(body)


def seq_of(port):
    return healthz(port)["seq"]


def metrics(port):
    status, headers, body = http_get(port, "/metrics")
    if status != 200:
        raise AssertionError("/metrics answered %d" % status)
    return headers, body.decode("utf-8", "replace")


def metric_values(text, name_pattern):
    """Sum of the samples whose metric name matches the regex `name_pattern`."""
    total, found = 0.0, False
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if m and re.search(name_pattern, m.group(1)):
            try:
                total += float(m.group(3))
                found = True
            except ValueError:
                pass
    return total if found else None


# ----------------------------------------------------------- async client

class ConnectionLost(AssertionError):
    pass


_CLIENTS = []  # clients opened during the current async test


class Client:
    """A tafel.v1 WebSocket connection with a background reader."""

    def __init__(self, ws):
        self.ws = ws
        self.inbox = asyncio.Queue()
        self.skipped = []  # messages next_message() passed over
        self.pending = {}
        self._req = 0
        self.closed = asyncio.Event()
        self.close_code = None
        self.close_reason = None
        self.me = None  # the ok reply of hello/join
        self.reader = asyncio.ensure_future(self._read())
        _CLIENTS.append(self)

    # -- connecting

    @classmethod
    async def open(cls, port, path="/ws", subprotocols=(SUBPROTOCOL,), **kw):
        uri = "ws://127.0.0.1:%d%s" % (port, path)
        ws = await asyncio.wait_for(
            websockets.connect(uri, subprotocols=list(subprotocols), max_size=None,
                               compression=None, ping_interval=None, open_timeout=TIMEOUT,
                               close_timeout=2, **kw), TIMEOUT)
        return cls(ws)

    @classmethod
    async def auth(cls, port, key):
        """Open and `hello` with KEY; asserts ok."""
        c = await cls.open(port)
        reply = await c.request({"type": "hello", "key": key})
        if reply.get("type") != "ok":
            raise AssertionError("hello refused: %r" % (reply,))
        c.me = reply
        return c

    @classmethod
    async def join(cls, port, code, name):
        """Open and `join` session CODE as NAME; asserts ok."""
        c = await cls.open(port)
        reply = await c.request({"type": "join", "code": code, "name": name})
        if reply.get("type") != "ok":
            raise AssertionError("join refused: %r" % (reply,))
        c.me = reply
        return c

    # -- reading

    async def _read(self):
        try:
            async for raw in self.ws:
                if isinstance(raw, bytes):
                    msg = {"type": "_binary", "data": raw}
                else:
                    try:
                        msg = json.loads(raw)
                    except ValueError:
                        msg = {"type": "_unparsable", "text": raw}
                fut = None
                if (isinstance(msg, dict) and msg.get("type") in ("ok", "error")
                        and "req" in msg):
                    fut = self.pending.pop(json.dumps(msg["req"]), None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
                else:
                    self.inbox.put_nowait(msg)
        except websockets.exceptions.ConnectionClosed:
            pass
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - reported through close_reason
            self.close_reason = "reader failed: %r" % (e,)
        finally:
            self.close_code = self.ws.close_code
            if self.close_reason is None:
                self.close_reason = self.ws.close_reason
            self.closed.set()
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionLost("connection closed (%s) before the reply"
                                                     % self.close_code))
            self.pending.clear()
            self.inbox.put_nowait({"type": "_closed"})

    def next_req(self):
        self._req += 1
        return self._req

    async def send(self, msg):
        """Send MSG as is (no req bookkeeping)."""
        await asyncio.wait_for(self.ws.send(json.dumps(msg)), TIMEOUT)

    async def send_text(self, text):
        await asyncio.wait_for(self.ws.send(text), TIMEOUT)

    async def submit(self, msg):
        """Send MSG with a fresh req; returns a future for its reply."""
        msg = dict(msg)
        if "req" not in msg:
            msg["req"] = self.next_req()
        fut = asyncio.get_running_loop().create_future()
        self.pending[json.dumps(msg["req"])] = fut
        if self.closed.is_set():
            fut.set_exception(ConnectionLost("connection already closed (%s)" % self.close_code))
            return fut
        await asyncio.wait_for(self.ws.send(json.dumps(msg)), TIMEOUT)
        return fut

    async def request(self, msg, timeout=TIMEOUT):
        """Send MSG with a fresh `req` and return the ok/error echoing it."""
        fut = await self.submit(msg)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise AssertionError("no reply within %.1f s to %s" % (timeout, _short(msg)))

    async def ok(self, msg, timeout=TIMEOUT):
        reply = await self.request(msg, timeout)
        if reply.get("type") != "ok":
            raise AssertionError("expected ok to %s, got %s" % (_short(msg), _short(reply)))
        return reply

    async def err(self, msg, code, timeout=TIMEOUT):
        reply = await self.request(msg, timeout)
        if reply.get("type") != "error" or reply.get("code") != code:
            raise AssertionError("expected error %s to %s, got %s"
                                 % (code, _short(msg), _short(reply)))
        return reply

    async def next_message(self, timeout=TIMEOUT, types=None):
        """The next message from the inbox (of one of TYPES, if given; others
        are moved to `skipped`). Raises AssertionError on timeout, and
        ConnectionLost when the connection closed with nothing left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError("no %s message within %.1f s"
                                     % ("/".join(types) if types else "", timeout))
            try:
                msg = await asyncio.wait_for(self.inbox.get(), remaining)
            except asyncio.TimeoutError:
                continue
            if msg.get("type") == "_closed":
                self.inbox.put_nowait(msg)
                raise ConnectionLost("connection closed (code %s)" % self.close_code)
            if types is None or msg.get("type") in types:
                return msg
            self.skipped.append(msg)

    async def next_event(self, timeout=TIMEOUT):
        return await self.next_message(timeout, ("event",))

    async def collect(self, seconds, types=None):
        """Every message (of TYPES) arriving within SECONDS."""
        out = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return out
            try:
                out.append(await self.next_message(remaining, types))
            except ConnectionLost:
                return out
            except AssertionError:
                return out

    def pending_messages(self, types=None):
        """Take what is in the inbox now (of TYPES, if given), without
        waiting; other messages stay in the inbox, in order."""
        out, keep = [], []
        while not self.inbox.empty():
            msg = self.inbox.get_nowait()
            if msg.get("type") != "_closed" and (types is None or msg.get("type") in types):
                out.append(msg)
            else:
                keep.append(msg)
        for msg in keep:
            self.inbox.put_nowait(msg)
        return out

    async def expect_close(self, code=None, timeout=TIMEOUT):
        """Wait for the server to close; returns the close code (asserts it
        equals CODE when given)."""
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError("connection not closed within %.1f s (expected %s)"
                                 % (timeout, code))
        if code is not None and self.close_code != code:
            raise AssertionError("closed with %s (%r), expected %s"
                                 % (self.close_code, self.close_reason, code))
        return self.close_code

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), 3)
        except Exception:  # noqa: BLE001 - best effort
            pass
        self.reader.cancel()
        try:
            await asyncio.wait_for(self.reader, 1)
        except BaseException:  # noqa: BLE001
            pass

    # -- conveniences

    async def create(self, kind, doc):
        """put without id; returns the stored document."""
        reply = await self.ok({"type": "put", "kind": kind, "doc": doc})
        stored = reply.get("doc")
        if stored is None:
            stored = (await self.ok({"type": "get", "kind": kind, "id": reply["id"]}))["doc"]
        return stored

    async def get(self, kind, id_):
        return (await self.ok({"type": "get", "kind": kind, "id": id_}))["doc"]

    async def list(self, kind=None, opgave=None):
        msg = {"type": "list"}
        if kind is not None:
            msg["kind"] = kind
        if opgave is not None:
            msg["opgave"] = opgave
        return (await self.ok(msg))["docs"]

    async def make_key(self, role, opgaven, label=None, expires_in=None):
        msg = {"type": "key.create", "role": role, "opgaven": opgaven,
               "label": label or ("test %s %s" % (role, secrets.token_hex(3)))}
        if expires_in is not None:
            msg["expires_in"] = expires_in
        reply = await self.ok(msg)
        return reply["key_id"], reply["key"]

    async def new_opgave(self, title=None):
        doc = await self.create("opgave", {"title": title or "Opgave %s" % secrets.token_hex(3)})
        return doc["id"]

    async def open_session(self, opgave, question="Wat gaat er goed?"):
        """Create a sessie in OPGAVE and open it; returns the opened doc."""
        s = await self.create("sessie", {"opgave": opgave, "question": question})
        reply = await self.ok({"type": "session.open", "id": s["id"]})
        return reply.get("doc") or await self.get("sessie", s["id"])

    async def sub(self, opgave, since=None, session=None, timeout=TIMEOUT):
        """Subscribe; returns (messages before the ok, the ok)."""
        msg = {"type": "sub", "opgave": opgave}
        if since is not None:
            msg["since"] = since
        if session is not None:
            msg["session"] = session
        reply = await self.ok(msg, timeout)
        before = self.pending_messages(("event", "snapshot"))
        return before, reply


def _short(msg, n=400):
    s = json.dumps(msg) if not isinstance(msg, str) else msg
    return s if len(s) <= n else s[:n] + "..."


async def close_all_clients():
    while _CLIENTS:
        await _CLIENTS.pop().close()


def async_test(timeout=60):
    """Decorator: run an `async def test_...` with asyncio.run, bounded by
    TIMEOUT seconds, closing every Client it opened."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self, *a, **kw):
            async def main():
                _CLIENTS.clear()
                try:
                    return await asyncio.wait_for(fn(self, *a, **kw), timeout)
                except asyncio.TimeoutError:
                    raise AssertionError("test exceeded its %d s limit" % timeout)
                finally:
                    await close_all_clients()
            return asyncio.run(main())
        return wrapper
    return deco


async def to_thread(fn, *a):
    """Run a blocking helper (HTTP, subprocess) off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *a)


# ---------------------------------------------------------- raw websocket

class RawWS:
    """A minimal blocking RFC 6455 client on a plain socket.

    Frames are built by hand, so tests can send what a library refuses to:
    invalid UTF-8 in a text frame, binary frames, fragments. Server pings are
    answered while reading."""

    OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

    def __init__(self, port, rcvbuf=None, timeout=TIMEOUT):
        self.port = port
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self._req = 0
        self.stash = []  # messages read while waiting for something else
        self.close_code = None
        self.status = None
        self.headers = {}

    @classmethod
    def connect(cls, port, protocols=(SUBPROTOCOL,), origin=None, rcvbuf=None,
                timeout=TIMEOUT):
        """Connect and complete the handshake; asserts 101."""
        c = cls(port, rcvbuf=rcvbuf, timeout=timeout)
        try:
            status, _h = c.handshake(protocols=protocols, origin=origin)
            if status != 101:
                raise AssertionError("handshake answered %s" % status)
        except BaseException:
            c.close()
            raise
        return c

    def handshake(self, path="/ws", protocols=(SUBPROTOCOL,), origin=None):
        """Send the upgrade request; returns (status, headers). On 101 checks
        Sec-WebSocket-Accept and the chosen subprotocol."""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % self.port,
                 "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
        if origin:
            lines.append("Origin: " + origin)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise AssertionError("handshake response too long")
            chunk = self._recv_some(deadline)
            if not chunk:
                # closed without a response: refused
                self.status = 0
                return 0, {}
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        head_lines = head.decode("latin-1").split("\r\n")
        parts = head_lines[0].split(" ", 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
        self.headers = {}
        for ln in head_lines[1:]:
            if ":" in ln:
                k, v = ln.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        if self.status == 101:
            want = base64.b64encode(hashlib.sha1(
                (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            if self.headers.get("sec-websocket-accept") != want:
                raise AssertionError("bad Sec-WebSocket-Accept: %r" % self.headers)
            if protocols and self.headers.get("sec-websocket-protocol") != SUBPROTOCOL:
                raise AssertionError("server chose subprotocol %r"
                                     % self.headers.get("sec-websocket-protocol"))
        return self.status, self.headers

    # -- bytes

    def _recv_some(self, deadline, n=65536):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(n)
        except ConnectionResetError:
            chunk = b""
        self.buf += chunk
        return chunk

    def _need(self, n, deadline):
        while len(self.buf) < n:
            if not self._recv_some(deadline, max(65536, n - len(self.buf))):
                raise EOFError("connection closed by peer")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    # -- frames

    @staticmethod
    def _mask(data, key):
        n = len(data)
        if n == 0:
            return b""
        k = (key * (n // 4 + 1))[:n]
        return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")

    @classmethod
    def frame(cls, opcode, payload, fin=True, mask=True):
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        mbit = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, mbit | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            head = struct.pack("!BBQ", b0, mbit | 127, n)
        if mask:
            key = os.urandom(4)
            return head + key + cls._mask(payload, key)
        return head + payload

    def send_frame(self, opcode, payload, fin=True):
        self.sock.settimeout(self.timeout)
        self.sock.sendall(self.frame(opcode, payload, fin))

    def send_text(self, text):
        self.send_frame(self.OP_TEXT, text)

    def send_json(self, msg):
        self.send_text(json.dumps(msg))

    def recv_frame(self, timeout=None):
        """(fin, opcode, payload); raises EOFError / socket.timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        b0, b1 = self._need(2, deadline)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._need(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8, deadline))[0]
        key = self._need(4, deadline) if b1 & 0x80 else None
        payload = self._need(n, deadline)
        if key:
            payload = self._mask(payload, key)
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv_message(self, timeout=None):
        """The next data message as (opcode, bytes), reassembling fragments
        and answering pings; a close frame gives ('close', code, reason)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        parts, first_op = [], None
        while True:
            fin, op, payload = self.recv_frame(max(0.001, deadline - time.monotonic()))
            if op == self.OP_PING:
                try:
                    self.send_frame(self.OP_PONG, payload)
                except OSError:
                    pass
                continue
            if op == self.OP_PONG:
                continue
            if op == self.OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.close_code = code
                return ("close", code, payload[2:].decode("utf-8", "replace"))
            if op != self.OP_CONT:
                first_op = op
            parts.append(payload)
            if fin:
                return (first_op, b"".join(parts))

    def recv_json(self, timeout=None):
        m = self.recv_message(timeout)
        if m[0] == "close":
            raise ConnectionLost("closed with %s %s" % (m[1], m[2]))
        if m[0] != self.OP_TEXT:
            raise AssertionError("non-text message, opcode %s" % m[0])
        return json.loads(m[1].decode("utf-8"))

    def request(self, msg, timeout=None):
        """Send MSG with a fresh req; the reply echoing it (others stashed)."""
        self._req += 1
        msg = dict(msg, req=self._req)
        self.send_json(msg)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            reply = self.recv_json(max(0.001, deadline - time.monotonic()))
            if reply.get("req") == self._req and reply.get("type") in ("ok", "error"):
                return reply
            self.stash.append(reply)

    def hello(self, key):
        reply = self.request({"type": "hello", "key": key})
        if reply.get("type") != "ok":
            raise AssertionError("hello refused: %r" % (reply,))
        return reply

    def expect_close(self, timeout=None, max_bytes=256 << 20):
        """Read (and drop) data until the close frame; returns its code, or
        None if the TCP connection ended without one."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        seen = 0
        while True:
            try:
                fin, op, payload = self.recv_frame(max(0.001, deadline - time.monotonic()))
            except EOFError:
                return None
            except socket.timeout:
                raise AssertionError("no close within the time limit")
            seen += len(payload)
            if seen > max_bytes:
                raise AssertionError("no close after %d bytes" % seen)
            if op == self.OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.close_code = code
                try:
                    self.send_frame(self.OP_CLOSE, payload[:2])
                except OSError:
                    pass
                return code
            if op == self.OP_PING:
                try:
                    self.send_frame(self.OP_PONG, payload)
                except OSError:
                    pass
            elif op in (self.OP_TEXT, self.OP_CONT):
                self.stash.append(payload)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------- documents

def sample_doc(kind, opgave, refs=None, n=0):
    """A valid new document of KIND in OPGAVE. REFS: {'actielijn': id,
    'indicator': id} for the kinds that reference them."""
    refs = refs or {}
    tag = "%s %d %s" % (kind, n, secrets.token_hex(3))
    if kind == "opgave":
        return {"title": "Opgave " + tag}
    doc = {"opgave": opgave}
    if kind == "actielijn":
        doc.update(title="Actielijn " + tag)
    elif kind == "activiteit":
        doc.update(actielijn=refs["actielijn"], title="Activiteit " + tag)
    elif kind == "indicator":
        doc.update(title="Indicator " + tag, type="effect")
    elif kind == "meting":
        doc.update(indicator=refs["indicator"], date="2025-03-%02d" % (1 + n % 28), value=n)
    elif kind == "reflectie":
        doc.update(sort="idee", text="Reflectie " + tag)
    elif kind == "sessie":
        doc.update(question="Vraag " + tag)
    elif kind == "moment":
        doc.update(date="2025-04-%02d" % (1 + n % 28), title="Moment " + tag)
    elif kind == "lid":
        doc.update(actor="a" + secrets.token_hex(5), name="Lid " + tag, role="partner")
    elif kind == "besluit":
        doc.update(text="Besluit " + tag, date="2025-05-%02d" % (1 + n % 28), decided_by="raad")
        if refs.get("reflectie"):
            doc["answers"] = [refs["reflectie"]]
    else:
        raise ValueError(kind)
    return doc


def update_set(kind, n=1):
    """A `set` for patch that any updater may apply to KIND."""
    tag = "bijgewerkt %d %s" % (n, secrets.token_hex(2))
    return {
        "opgave": {"title": "Opgave " + tag},
        "actielijn": {"title": "Actielijn " + tag},
        "activiteit": {"title": "Activiteit " + tag},
        "indicator": {"title": "Indicator " + tag},
        "meting": {"value": 100 + n},
        "reflectie": {"text": "Reflectie " + tag},
        "sessie": {"question": "Vraag " + tag},
        "moment": {"title": "Moment " + tag},
        "lid": {"name": "Lid " + tag},
        "besluit": {"text": "Besluit " + tag},
    }[kind]


def random_key():
    """A well-formed key that was never issued."""
    return "tafel_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def wrong_join_code(avoid=()):
    while True:
        code = "".join(secrets.choice(JOIN_ALPHABET) for _ in range(8))
        if code.upper() not in {a.upper() for a in avoid}:
            return code


# --------------------------------------------------------------- test base

class TafelCase(unittest.TestCase):
    """One fresh data directory and one running server per test class.

    SERVER_ARGS: extra `serve` options for this class."""

    SERVER_ARGS = ()
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tafel-it-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.data = os.path.join(cls.tmp, "data")
        cls.admin_key = init_data_dir(cls.data)
        cls.srv = Server(cls.data, cls.SERVER_ARGS)
        cls.addClassCleanup(cls.srv.kill9)
        cls.addClassCleanup(cls.srv.stop_clean)
        cls.srv.start()

    @property
    def port(self):
        return self.srv.port

    async def admin(self):
        return await Client.auth(self.port, self.admin_key)

    def seq(self):
        return seq_of(self.port)

    def assertDocSubset(self, expected, doc, msg=None):
        for k, v in expected.items():
            self.assertIn(k, doc, msg)
            self.assertEqual(doc[k], v, msg)


def main():
    unittest.main(verbosity=int(os.environ.get("TAFEL_TEST_VERBOSITY", "1")))
