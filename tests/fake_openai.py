"""A real HTTP server on 127.0.0.1 that speaks (a small part of) the OpenAI API.

Tests point the *real* ``openai`` SDK at it (no monkeypatching)::

    from fake_openai import FakeOpenAI, Reply, user_text

    with FakeOpenAI(script=['{"name": "Ada"}', Reply(status=429)]) as server:
        client = openai.OpenAI(
            api_key="sk-test", base_url=server.base_url, max_retries=0
        )
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        assert server.count() == 1
        assert server.requests[0]["model"] == "gpt-4o-mini"

Importing: ``tests/`` is not a package, so it must be on ``sys.path``; this
relies on ``pyproject.toml`` having::

    [tool.pytest.ini_options]
    pythonpath = ["tests"]

(outside pytest: ``PYTHONPATH=tests uv run python ...``).

A responder is called with the same dict that is appended to
``server.requests`` (so it also sees ``"_headers"``); it may return a
``Reply``, a ``str`` (= ``Reply(content=...)``) or a ``dict`` (JSON-encoded
into the content).  Batch lines go through the same responder/script, but
their ``Reply.delay`` is ignored and ``drop`` makes the line a failed item.

Endpoints (everything else is an OpenAI-style 404):

* ``POST /v1/chat/completions`` -- non-streaming chat completions, answered by
  the ``responder`` / ``script`` (``stream=true`` is refused with a 400).
* ``POST /v1/embeddings`` -- one vector per input from ``embedder(text)``
  (float encoding only; the embedder may return a ``Reply`` to fail the call).
* ``GET  /v1/models`` and ``GET /v1/models/{id}`` -- one model (``model=``).
* ``POST /v1/files`` (multipart upload), ``GET /v1/files``,
  ``GET /v1/files/{id}``, ``GET /v1/files/{id}/content``,
  ``DELETE /v1/files/{id}``.
* ``POST /v1/batches``, ``GET /v1/batches``, ``GET /v1/batches/{id}``,
  ``POST /v1/batches/{id}/cancel``.  A batch's lines are answered by the same
  responder/script when the batch is created; the batch then reports
  ``in_progress`` for ``batch_polls`` retrievals and ``completed`` after that.

Scripts: replies are served in order; once the script is used up every further
request gets a 500 ``script exhausted`` error carrying ``x-should-retry:
false`` so the SDK gives up at once and the test fails loudly (an unexpected
extra call is a bug worth seeing).  Responder exceptions likewise become a 500
(with the exception text, also recorded in ``server.errors``) that the SDK
does not retry.

Retry timing with the real SDK: ``Retry-After: 0`` is *not* honoured as "no
wait" (the SDK only honours values > 0 and otherwise falls back to its own
exponential backoff of ~0.4-0.5 s for the first retry).  To keep retry tests
fast use ``headers={"retry-after-ms": "10"}``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import struct
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "FakeOpenAI",
    "Reply",
    "response_format",
    "system_text",
    "user_text",
]

CHAT_PATH = "/v1/chat/completions"
_REDACTED_HEADERS = ("authorization", "api-key", "openai-organization")

# status -> (error type, error code) used when a Reply does not say.
_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "not_found"),
    408: ("timeout", "request_timeout"),
    409: ("conflict", None),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", "bad_gateway"),
    503: ("server_error", "service_unavailable"),
}


@dataclass
class Reply:
    """One scripted answer to a chat completion request."""

    content: str | None = None
    """Assistant message content (the text/JSON the model "wrote").  For a
    non-200 ``status`` it is the error message instead."""
    status: int = 200
    """Non-200 -> OpenAI-style error body ``{"error": {message, type, code}}``."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers, e.g. ``{"Retry-After": "1"}``."""
    delay: float = 0.0
    """Seconds to wait before answering (interrupted by server shutdown)."""
    finish_reason: str = "stop"
    drop: bool = False
    """Close the connection (TCP reset) without sending any answer."""
    model: str | None = None
    """Model name reported back; default: echo the request's ``model``."""
    usage: dict[str, int] | None = None
    """Default: prompt ~ prompt chars // 4, completion ~ len(content) // 4."""
    error_type: str | None = None
    """For errors: overrides the ``error.type`` derived from ``status``."""
    error_code: str | None = None
    """For errors: overrides the ``error.code`` derived from ``status``."""


Responder = Callable[[dict[str, Any]], "Reply | str | dict[str, Any]"]


# --------------------------------------------------------------------------
# helpers for test writers
# --------------------------------------------------------------------------


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return str(content)


def _role_text(request: dict[str, Any], roles: tuple[str, ...]) -> str:
    return "\n".join(
        _content_text(m.get("content"))
        for m in request.get("messages") or []
        if isinstance(m, dict) and m.get("role") in roles
    )


def user_text(request: dict[str, Any]) -> str:
    """The user messages' text, joined with newlines."""
    return _role_text(request, ("user",))


def system_text(request: dict[str, Any]) -> str:
    """The system/developer messages' text, joined with newlines."""
    return _role_text(request, ("system", "developer"))


def response_format(request: dict[str, Any]) -> dict[str, Any] | None:
    """The ``response_format`` the client sent, or None."""
    rf = request.get("response_format")
    return rf if isinstance(rf, dict) else None


# --------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names, secrets redacted
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from the route

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8") or "null")


@dataclass
class _Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


class _BadRequest(Exception):
    pass


class _Drop(Exception):
    """Raised inside the handler to abort the connection without a reply."""


def _json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> _Response:
    return _Response(status, json.dumps(obj).encode(), headers=dict(headers or {}))


def _error_response(
    status: int,
    message: str,
    *,
    type: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> _Response:
    default_type, default_code = _ERROR_KINDS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    err = {
        "message": message,
        "type": type or default_type,
        "param": None,
        "code": code if code is not None else default_code,
    }
    return _json_response({"error": err}, status, headers)


def _redact(headers: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        key = name.lower()
        if key in _REDACTED_HEADERS:
            out[key] = "Bearer ***" if value.lower().startswith("bearer ") else "***"
        else:
            out[key] = value
    return out


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Minimal multipart/form-data parser -> {name: str | (filename, bytes)}."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise _BadRequest("multipart body without boundary")
    delim = b"--" + m.group(1).encode()
    fields: dict[str, Any] = {}
    for raw_part in body.split(delim)[1:]:
        if raw_part.startswith(b"--"):
            break
        head, _, data = raw_part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        head_text = head.decode("utf-8", "replace")
        name = re.search(r'\bname="([^"]*)"', head_text)
        filename = re.search(r'\bfilename="([^"]*)"', head_text)
        if not name:
            continue
        if filename:
            fields[name.group(1)] = (filename.group(1), data)
        else:
            fields[name.group(1)] = data.decode("utf-8")
    return fields


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except _Drop:
            self.close_connection = True
            self.server.abort_on_close(self.connection)
        except OSError:  # client went away (timeout, reset) mid-exchange
            self.close_connection = True

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            resp = _error_response(400, "malformed request body")
        else:
            request = _Request(
                method=self.command,
                path=url.path,
                query=parse_qs(url.query),
                headers=_redact(dict(self.headers.items())),
                body=body,
            )
            resp = fake._dispatch(request)
        if resp.delay > 0 and fake._stop.wait(resp.delay):
            raise _Drop  # shutting down: do not keep the caller waiting
        if resp.drop:
            raise _Drop
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(resp.body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _dispatch


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks its connections so close() ends them."""

    daemon_threads = True
    # socketserver's default backlog of 5 resets connections when many clients
    # connect at once (a benchmark runs 64 concurrent calls).
    request_queue_size = 1024

    def __init__(self, fake: FakeOpenAI) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self._conn_lock = threading.Lock()
        self._conns: dict[threading.Thread, socket.socket] = {}
        self._aborted: set[socket.socket] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        t = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"fake-openai-{self.server_address[1]}-conn",
            daemon=True,
        )
        with self._conn_lock:
            self._conns[t] = request
        t.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - recorded in fake.errors
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._conn_lock:
                self._conns.pop(threading.current_thread(), None)

    def abort_on_close(self, sock: socket.socket) -> None:
        """Make the coming close of ``sock`` a TCP reset (RST), not a FIN."""
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self._conn_lock:
            self._aborted.add(sock)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            aborted = request in self._aborted
            self._aborted.discard(request)
        if aborted:
            request.close()  # linger 0 -> RST
        else:
            super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.fake.errors.append(traceback.format_exc())

    def close_connections(self, timeout: float) -> None:
        """Wake every connection thread (EOF on its socket) and join them."""
        with self._conn_lock:
            conns = list(self._conns.items())
        for _, sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for t, _ in conns:
            t.join(max(0.0, deadline - time.monotonic()))

    def live_connections(self) -> int:
        with self._conn_lock:
            return len(self._conns)


# --------------------------------------------------------------------------
# the fake
# --------------------------------------------------------------------------

_Route = tuple[str, "re.Pattern[str]", str]


def _route(method: str, pattern: str, handler: str) -> _Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
    return (method, re.compile(f"^{regex}$"), handler)


class FakeOpenAI:
    """Local OpenAI-compatible HTTP server for tests (see module docstring).

    Attributes:
        base_url: ``"http://127.0.0.1:<port>/v1"`` -- pass to ``openai.OpenAI``.
        requests: every JSON body received on ``/v1/chat/completions``, in
            order, each with ``"_headers"``: the request headers, names
            lower-cased, ``authorization`` redacted to ``"Bearer ***"``.
        batch_requests: the ``body`` of every batch input line answered, with
            ``"_custom_id"`` and ``"_batch_id"`` added.
        files / batches: stored objects by id (a file dict also holds its raw
            ``"content"`` bytes); tests may edit them, e.g. set a batch's
            ``"status"`` to ``"expired"``.
        errors: tracebacks of responder exceptions and handler crashes.
    """

    ROUTES: ClassVar[list[_Route]] = [
        _route("POST", "/v1/chat/completions", "_chat_completions"),
        _route("POST", "/v1/embeddings", "_embeddings"),
        _route("GET", "/v1/models", "_list_models"),
        _route("GET", "/v1/models/{model}", "_get_model"),
        _route("POST", "/v1/files", "_create_file"),
        _route("GET", "/v1/files", "_list_files"),
        _route("GET", "/v1/files/{file_id}", "_get_file"),
        _route("DELETE", "/v1/files/{file_id}", "_delete_file"),
        _route("GET", "/v1/files/{file_id}/content", "_get_file_content"),
        _route("POST", "/v1/batches", "_create_batch"),
        _route("GET", "/v1/batches", "_list_batches"),
        _route("GET", "/v1/batches/{batch_id}", "_get_batch"),
        _route("POST", "/v1/batches/{batch_id}/cancel", "_cancel_batch"),
    ]

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        script: list[Reply | str] | None = None,
        model: str = "gpt-4o-mini",
        batch_polls: int = 0,
        embedder: Callable[[str], list[float] | Reply] | None = None,
    ) -> None:
        if responder is not None and script is not None:
            raise ValueError("pass either a responder or a script, not both")
        self.responder = responder
        self.script: list[Reply | str] | None = list(script) if script is not None else None
        self.model = model
        self.batch_polls = batch_polls
        self.embedder = embedder
        self.embedding_requests: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.batch_requests: list[dict[str, Any]] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []
        self.hits: list[tuple[str, str]] = []  # (method, path) of every request
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._script_pos = 0
        self._stop = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # ---- lifecycle -------------------------------------------------------

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("FakeOpenAI already started")
        self._stop.clear()
        self._httpd = _Server(self)
        port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},  # quick shutdown()
            name=f"fake-openai-{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stop.set()  # wake delayed replies (they drop their connection)
        httpd.shutdown()  # stop accepting
        httpd.close_connections(timeout=2.0)
        httpd.server_close()
        if thread is not None:
            thread.join(2.0)
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeOpenAI not started")
        return int(self._httpd.server_address[1])

    def live_connections(self) -> int:
        """Connections currently open to the server (for leak checks)."""
        return self._httpd.live_connections() if self._httpd else 0

    # ---- inspection ------------------------------------------------------

    def count(self, path: str = CHAT_PATH, method: str | None = None) -> int:
        """How many HTTP requests hit ``path`` (any method unless given)."""
        with self._lock:
            return sum(1 for m, p in self.hits if p == path and (method is None or m == method))

    def add_file(self, content: bytes, filename: str = "upload.jsonl", purpose: str = "batch") -> str:
        """Store a file as if uploaded; returns its id."""
        file_id = f"file-fake{self._next_id()}"
        with self._lock:
            self.files[file_id] = {
                "id": file_id,
                "object": "file",
                "bytes": len(content),
                "created_at": int(time.time()),
                "filename": filename,
                "purpose": purpose,
                "status": "processed",
                "content": content,
            }
        return file_id

    # ---- dispatch --------------------------------------------------------

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def _dispatch(self, request: _Request) -> _Response:
        with self._lock:
            self.hits.append((request.method, request.path))
        for method, regex, handler in self.ROUTES:
            m = regex.match(request.path)
            if m and method == request.method:
                request.params = m.groupdict()
                try:
                    response: _Response = getattr(self, handler)(request)
                    return response
                except _BadRequest as e:
                    return _error_response(400, str(e))
                except Exception as e:  # noqa: BLE001 - a bug in the fake itself
                    self.errors.append(traceback.format_exc())
                    return _error_response(
                        500,
                        f"FakeOpenAI crashed: {type(e).__name__}: {e}",
                        headers={"x-should-retry": "false"},
                    )
        return _error_response(
            404,
            f"Invalid URL ({request.method} {request.path})",
            code="unknown_url",
        )

    def _reply_for(self, body: dict[str, Any]) -> Reply:
        """The next Reply from the script or responder (errors -> 500)."""
        no_retry = {"x-should-retry": "false"}
        if self.script is not None:
            with self._lock:
                pos = self._script_pos
                self._script_pos += 1
            if pos >= len(self.script):
                return Reply(
                    status=500,
                    content=f"FakeOpenAI script exhausted: request #{pos + 1} but "
                    f"only {len(self.script)} scripted replies",
                    headers=no_retry,
                )
            raw: Any = self.script[pos]
        elif self.responder is not None:
            try:
                raw = self.responder(body)
            except Exception as e:  # noqa: BLE001 - becomes a loud 500
                self.errors.append(traceback.format_exc())
                return Reply(
                    status=500,
                    content=f"FakeOpenAI responder raised {type(e).__name__}: {e}",
                    headers=no_retry,
                )
        else:
            return Reply(
                status=500,
                content="FakeOpenAI has no responder or script",
                headers=no_retry,
            )
        if isinstance(raw, Reply):
            return raw
        if isinstance(raw, str):
            return Reply(content=raw)
        if isinstance(raw, dict):
            return Reply(content=json.dumps(raw))
        msg = f"FakeOpenAI responder returned {type(raw).__name__}, expected Reply|str"
        self.errors.append(msg)
        return Reply(status=500, content=msg, headers=no_retry)

    def _completion_json(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        content = reply.content
        if reply.usage is not None:
            usage = dict(reply.usage)
        else:
            prompt_chars = sum(
                len(_content_text(m.get("content"))) for m in body.get("messages") or [] if isinstance(m, dict)
            )
            usage = {
                "prompt_tokens": prompt_chars // 4,
                "completion_tokens": len(content or "") // 4,
            }
        usage.setdefault("prompt_tokens", 0)
        usage.setdefault("completion_tokens", 0)
        usage.setdefault("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])
        return {
            "id": f"chatcmpl-fake{self._next_id()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or body.get("model") or self.model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": content,
                        "refusal": None,
                    },
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": usage,
        }

    def _reply_response(self, body: dict[str, Any], reply: Reply) -> _Response:
        headers = {"x-request-id": f"req_fake{self._next_id()}", **reply.headers}
        if reply.status != 200:
            resp = _error_response(
                reply.status,
                reply.content or f"FakeOpenAI error {reply.status}",
                type=reply.error_type,
                code=reply.error_code,
                headers=headers,
            )
        else:
            resp = _json_response(self._completion_json(body, reply), headers=headers)
        resp.delay, resp.drop = reply.delay, reply.drop
        return resp

    # ---- chat ------------------------------------------------------------

    def _chat_completions(self, request: _Request) -> _Response:
        try:
            body = request.json()
        except ValueError as e:
            raise _BadRequest(f"request body is not JSON: {e}") from None
        if not isinstance(body, dict):
            raise _BadRequest("request body must be a JSON object")
        body["_headers"] = request.headers
        with self._lock:
            self.requests.append(body)
        if body.get("stream"):
            return _error_response(400, "FakeOpenAI does not support stream=true")
        return self._reply_response(body, self._reply_for(body))

    # ---- embeddings ------------------------------------------------------

    def _embeddings(self, request: _Request) -> _Response:
        body = request.json()
        if not isinstance(body, dict) or "input" not in body:
            raise _BadRequest("embeddings need an input")
        with self._lock:
            self.embedding_requests.append(body)
        if body.get("encoding_format", "float") != "float":
            raise _BadRequest("FakeOpenAI serves encoding_format=float only")
        texts = [body["input"]] if isinstance(body["input"], str) else list(body["input"])
        if self.embedder is None:
            return _error_response(500, "FakeOpenAI has no embedder", headers={"x-should-retry": "false"})
        data = []
        for i, text in enumerate(texts):
            vector = self.embedder(text)
            if isinstance(vector, Reply):
                return self._reply_response(body, vector)
            data.append({"object": "embedding", "index": i, "embedding": vector})
        usage = {"prompt_tokens": sum(len(t) // 4 for t in texts), "total_tokens": sum(len(t) // 4 for t in texts)}
        return _json_response({"object": "list", "data": data, "model": body.get("model"), "usage": usage})

    # ---- models ----------------------------------------------------------

    def _model_json(self, model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": 0, "owned_by": "fake-openai"}

    def _list_models(self, request: _Request) -> _Response:
        return _json_response({"object": "list", "data": [self._model_json(self.model)]})

    def _get_model(self, request: _Request) -> _Response:
        model = request.params["model"]
        if model != self.model:
            return _error_response(404, f"The model '{model}' does not exist", code="model_not_found")
        return _json_response(self._model_json(model))

    # ---- files -----------------------------------------------------------

    @staticmethod
    def _file_meta(f: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in f.items() if k != "content"}

    def _lookup_file(self, request: _Request) -> dict[str, Any] | None:
        with self._lock:
            return self.files.get(request.params["file_id"])

    def _no_such(self, kind: str, ident: str) -> _Response:
        return _error_response(404, f"No such {kind}: '{ident}'")

    def _create_file(self, request: _Request) -> _Response:
        fields = _parse_multipart(request.headers.get("content-type", ""), request.body)
        upload = fields.get("file")
        if not isinstance(upload, tuple):
            raise _BadRequest("missing 'file' upload")
        purpose = fields.get("purpose")
        if not isinstance(purpose, str):
            raise _BadRequest("missing 'purpose'")
        file_id = self.add_file(upload[1], filename=upload[0], purpose=purpose)
        return _json_response(self._file_meta(self.files[file_id]))

    def _list_files(self, request: _Request) -> _Response:
        with self._lock:
            data = [self._file_meta(f) for f in self.files.values()]
        return _json_response({"object": "list", "data": data, "has_more": False})

    def _get_file(self, request: _Request) -> _Response:
        f = self._lookup_file(request)
        if f is None:
            return self._no_such("file", request.params["file_id"])
        return _json_response(self._file_meta(f))

    def _delete_file(self, request: _Request) -> _Response:
        file_id = request.params["file_id"]
        with self._lock:
            found = self.files.pop(file_id, None) is not None
        if not found:
            return self._no_such("file", file_id)
        return _json_response({"id": file_id, "object": "file", "deleted": True})

    def _get_file_content(self, request: _Request) -> _Response:
        f = self._lookup_file(request)
        if f is None:
            return self._no_such("file", request.params["file_id"])
        return _Response(200, f["content"], content_type="application/octet-stream")

    # ---- batches ---------------------------------------------------------

    def _create_batch(self, request: _Request) -> _Response:
        body = request.json()
        if not isinstance(body, dict):
            raise _BadRequest("request body must be a JSON object")
        input_id = body.get("input_file_id")
        with self._lock:
            input_file = self.files.get(str(input_id))
        if input_file is None:
            return self._no_such("file", str(input_id))
        batch_id = f"batch_fake{self._next_id()}"
        outputs: list[str] = []
        failures: list[str] = []
        for line in input_file["content"].decode("utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            line_body = dict(item.get("body") or {})
            line_body["_custom_id"] = item.get("custom_id")
            line_body["_batch_id"] = batch_id
            with self._lock:
                self.batch_requests.append(line_body)
            reply = self._reply_for(line_body)
            out: dict[str, Any] = {
                "id": f"batch_req_fake{self._next_id()}",
                "custom_id": item.get("custom_id"),
                "response": None,
                "error": None,
            }
            if reply.drop:
                out["error"] = {"code": "server_error", "message": "dropped"}
                failures.append(json.dumps(out))
                continue
            resp = self._reply_response(line_body, reply)
            out["response"] = {
                "status_code": resp.status,
                "request_id": resp.headers.get("x-request-id"),
                "body": json.loads(resp.body),
            }
            (outputs if resp.status == 200 else failures).append(json.dumps(out))
        now = int(time.time())

        def jsonl(lines: list[str]) -> str | None:
            if not lines:
                return None
            data = ("\n".join(lines) + "\n").encode()
            return self.add_file(data, f"{batch_id}_output.jsonl", "batch_output")

        batch = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body.get("endpoint", CHAT_PATH),
            "errors": None,
            "input_file_id": input_id,
            "completion_window": body.get("completion_window", "24h"),
            "status": "completed",
            "output_file_id": jsonl(outputs),
            "error_file_id": jsonl(failures),
            "created_at": now,
            "in_progress_at": now,
            "expires_at": now + 24 * 3600,
            "finalizing_at": now,
            "completed_at": now,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {
                "total": len(outputs) + len(failures),
                "completed": len(outputs),
                "failed": len(failures),
            },
            "metadata": body.get("metadata"),
            "_polls_left": self.batch_polls,
        }
        with self._lock:
            self.batches[batch_id] = batch
            return _json_response(self._batch_view(batch, "create"))

    def _batch_view(self, batch: dict[str, Any], mode: str = "peek") -> dict[str, Any]:
        """What a client sees: ``mode`` is "create", "poll" (counts against
        ``batch_polls``) or "peek" (listing).  Call with ``self._lock`` held."""
        view = {k: v for k, v in batch.items() if not k.startswith("_")}
        if batch["status"] == "completed" and batch["_polls_left"] > 0:
            if mode == "poll":
                batch["_polls_left"] -= 1
            view.update(
                status="validating" if mode == "create" else "in_progress",
                output_file_id=None,
                error_file_id=None,
                finalizing_at=None,
                completed_at=None,
                request_counts={**batch["request_counts"], "completed": 0, "failed": 0},
            )
        return view

    def _lookup_batch(self, request: _Request) -> dict[str, Any] | None:
        with self._lock:
            return self.batches.get(request.params["batch_id"])

    def _get_batch(self, request: _Request) -> _Response:
        batch = self._lookup_batch(request)
        if batch is None:
            return self._no_such("batch", request.params["batch_id"])
        with self._lock:
            return _json_response(self._batch_view(batch, "poll"))

    def _list_batches(self, request: _Request) -> _Response:
        with self._lock:
            data = [self._batch_view(b) for b in self.batches.values()]
        return _json_response({"object": "list", "data": data, "has_more": False})

    def _cancel_batch(self, request: _Request) -> _Response:
        batch = self._lookup_batch(request)
        if batch is None:
            return self._no_such("batch", request.params["batch_id"])
        with self._lock:
            if batch["_polls_left"] > 0:
                now = int(time.time())
                batch.update(
                    status="cancelled",
                    cancelling_at=now,
                    cancelled_at=now,
                    completed_at=None,
                    _polls_left=0,
                )
            return _json_response(self._batch_view(batch))
