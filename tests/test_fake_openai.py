"""FakeOpenAI works end to end with the real ``openai`` SDK (sync and async)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from fake_openai import FakeOpenAI, Reply, response_format, system_text, user_text

MODEL = "gpt-4o-mini"
MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Extract the person."},
    {"role": "user", "content": "Ada Lovelace was born in 1815."},
]
SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "person",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "born": {"type": "integer"}},
            "required": ["name", "born"],
            "additionalProperties": False,
        },
    },
}
ANSWER = '{"name": "Ada Lovelace", "born": 1815}'


# One connection pool for the sync clients of this module: building an
# ``openai.OpenAI`` without ``http_client=`` creates an SSL context (~40 ms).
# NB: ``OpenAI.close()`` would close the shared pool too, so the sync clients
# below are not closed; ``teardown_module`` closes the pool.
_HTTP = openai.DefaultHttpxClient()


def teardown_module() -> None:
    _HTTP.close()


def client(server: FakeOpenAI, **kw: Any) -> openai.OpenAI:
    kw.setdefault("max_retries", 0)
    kw.setdefault("http_client", _HTTP)
    return openai.OpenAI(api_key="sk-test", base_url=server.base_url, **kw)


def aclient(server: FakeOpenAI, **kw: Any) -> openai.AsyncOpenAI:
    kw.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(api_key="sk-test", base_url=server.base_url, **kw)


def ask(c: openai.OpenAI, **kw: Any) -> ChatCompletion:
    resp: ChatCompletion = c.chat.completions.create(model=MODEL, messages=MESSAGES, **kw)
    return resp


def test_scripted_json_answer_with_usage_and_model() -> None:
    with FakeOpenAI(script=[ANSWER]) as server:
        c = client(server)
        resp = ask(c, response_format=SCHEMA_FORMAT)
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.base_url.endswith("/v1")
    assert json.loads(resp.choices[0].message.content or "") == {
        "name": "Ada Lovelace",
        "born": 1815,
    }
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.model == MODEL
    assert resp.usage is not None
    assert resp.usage.completion_tokens == len(ANSWER) // 4
    assert resp.usage.prompt_tokens > 0
    assert resp.usage.total_tokens == (resp.usage.prompt_tokens + resp.usage.completion_tokens)
    assert server.count() == 1
    # what the client sent is visible, including response_format
    req = server.requests[0]
    assert req["model"] == MODEL
    assert response_format(req) == SCHEMA_FORMAT
    assert user_text(req) == "Ada Lovelace was born in 1815."
    assert system_text(req) == "Extract the person."


def test_responder_sees_request_and_overrides_model_and_usage() -> None:
    def responder(request: dict[str, Any]) -> Reply:
        return Reply(
            content=json.dumps({"echo": user_text(request).upper()}),
            model="gpt-4o-mini-2024-07-18",
            usage={"prompt_tokens": 11, "completion_tokens": 7},
        )

    with FakeOpenAI(responder) as server:
        c = client(server)
        resp = ask(c)
    assert json.loads(resp.choices[0].message.content or "") == {"echo": "ADA LOVELACE WAS BORN IN 1815."}
    assert resp.model == "gpt-4o-mini-2024-07-18"
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (11, 7)
    assert resp.usage.total_tokens == 18


def test_async_client() -> None:
    async def main(server: FakeOpenAI) -> list[str | None]:
        async with aclient(server) as c:
            results = await asyncio.gather(
                *(
                    c.chat.completions.create(
                        model=MODEL,
                        messages=[{"role": "user", "content": f"item {i}"}],
                    )
                    for i in range(5)
                )
            )
        return [r.choices[0].message.content for r in results]

    with FakeOpenAI(lambda req: f"seen: {user_text(req)}") as server:
        contents = asyncio.run(main(server))
    assert contents == [f"seen: item {i}" for i in range(5)]
    assert server.count() == 5
    assert sorted(user_text(r) for r in server.requests) == [f"item {i}" for i in range(5)]


def test_async_errors() -> None:
    async def main(server: FakeOpenAI) -> None:
        async with aclient(server, timeout=0.2) as c:
            with pytest.raises(openai.AuthenticationError):
                await c.chat.completions.create(model=MODEL, messages=MESSAGES)
            with pytest.raises(openai.APITimeoutError):
                await c.chat.completions.create(model=MODEL, messages=MESSAGES)

    with FakeOpenAI(script=[Reply(status=401), Reply(ANSWER, delay=2)]) as server:
        asyncio.run(main(server))
    assert server.count() == 2


def test_429_with_retry_after_is_retried() -> None:
    script: list[Reply | str] = [
        Reply(status=429, content="Rate limit reached", headers={"Retry-After": "0"}),
        ANSWER,
    ]
    with FakeOpenAI(script=script) as server:
        c = client(server, max_retries=1)
        resp = ask(c)
    assert resp.choices[0].message.content == ANSWER
    assert server.count() == 2


def test_429_without_retries_raises_rate_limit_error() -> None:
    reply = Reply(status=429, headers={"retry-after-ms": "10"})
    with FakeOpenAI(script=[reply]) as server:
        c = client(server)
        with pytest.raises(openai.RateLimitError) as info:
            ask(c)
    assert info.value.status_code == 429
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.response.headers["retry-after-ms"] == "10"


def test_401_raises_authentication_error() -> None:
    reply = Reply(status=401, content="Incorrect API key provided")
    with FakeOpenAI(script=[reply]) as server:
        c = client(server)
        with pytest.raises(openai.AuthenticationError) as info:
            ask(c)
    assert "Incorrect API key provided" in str(info.value)
    assert info.value.code == "invalid_api_key"


def test_400_with_custom_error_code() -> None:
    reply = Reply(status=400, content="too long", error_code="context_length_exceeded")
    with FakeOpenAI(script=[reply]) as server:
        c = client(server)
        with pytest.raises(openai.BadRequestError) as info:
            ask(c)
    assert info.value.code == "context_length_exceeded"
    assert info.value.type == "invalid_request_error"


def test_delay_beyond_client_timeout_raises_timeout() -> None:
    with FakeOpenAI(script=[Reply(ANSWER, delay=3)]) as server:
        c = client(server, timeout=0.2)
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            ask(c)
        assert time.monotonic() - started < 1.5
        started = time.monotonic()
    # the pending delayed reply does not hold up shutdown
    assert time.monotonic() - started < 1.0


def test_dropped_connection_raises_connection_error() -> None:
    with FakeOpenAI(script=[Reply(drop=True)]) as server:
        c = client(server)
        with pytest.raises(openai.APIConnectionError) as info:
            ask(c)
    assert not isinstance(info.value, openai.APITimeoutError)
    assert server.count() == 1


def test_finish_reason_length() -> None:
    reply = Reply('{"name": "Ada', finish_reason="length")
    with FakeOpenAI(script=[reply]) as server:
        c = client(server)
        resp = ask(c)
    assert resp.choices[0].finish_reason == "length"
    assert resp.choices[0].message.content == '{"name": "Ada'


def test_authorization_header_is_redacted() -> None:
    with FakeOpenAI(script=[ANSWER]) as server:
        c = openai.OpenAI(
            api_key="sk-very-secret",
            base_url=server.base_url,
            max_retries=0,
            http_client=_HTTP,
        )
        ask(c)
    headers = server.requests[0]["_headers"]
    assert headers["authorization"] == "Bearer ***"
    assert "sk-very-secret" not in repr(server.requests)
    assert headers["content-type"] == "application/json"


def test_script_exhausted_and_responder_errors_are_loud_500s() -> None:
    with FakeOpenAI(script=[ANSWER]) as server:
        c = client(server, max_retries=2)
        ask(c)
        with pytest.raises(openai.InternalServerError, match="script exhausted"):
            ask(c)
    assert server.count() == 2  # x-should-retry: false -> the SDK did not retry

    def broken(request: dict[str, Any]) -> str:
        raise KeyError("no such fixture")

    with FakeOpenAI(broken) as server:
        c = client(server, max_retries=2)
        with pytest.raises(openai.InternalServerError, match="no such fixture"):
            ask(c)
    assert server.count() == 1
    assert "KeyError" in server.errors[0]


def test_models_endpoint_and_unknown_path() -> None:
    with FakeOpenAI(model="fake-model-1") as server:
        c = client(server)
        assert [m.id for m in c.models.list()] == ["fake-model-1"]
        assert c.models.retrieve("fake-model-1").id == "fake-model-1"
        with pytest.raises(openai.NotFoundError):
            c.models.retrieve("nope")
        with pytest.raises(openai.NotFoundError, match="Invalid URL"):
            c.moderations.create(model="x", input="hi")
    assert server.count("/v1/models") == 1
    assert server.count("/v1/moderations", method="POST") == 1
    assert server.count() == 0
    assert server.requests == []


def test_files_and_batches_roundtrip() -> None:
    lines = [
        {
            "custom_id": f"doc-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": MODEL, "messages": [{"role": "user", "content": t}]},
        }
        for i, t in enumerate(["alpha", "FAIL", "gamma"])
    ]

    def responder(request: dict[str, Any]) -> Reply | str:
        if user_text(request) == "FAIL":
            return Reply(status=400, content="bad item")
        return json.dumps({"text": user_text(request), "id": request["_custom_id"]})

    jsonl = "".join(json.dumps(line) + "\n" for line in lines).encode()
    with FakeOpenAI(responder, batch_polls=1) as server:
        c = client(server)
        uploaded = c.files.create(file=("in.jsonl", jsonl), purpose="batch")
        assert uploaded.filename == "in.jsonl"
        assert uploaded.bytes == len(jsonl)
        assert c.files.content(uploaded.id).content == jsonl
        batch = c.batches.create(
            input_file_id=uploaded.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
        )
        assert batch.status == "validating"
        assert c.batches.retrieve(batch.id).status == "in_progress"
        done = c.batches.retrieve(batch.id)
        assert done.status == "completed"
        assert done.request_counts is not None
        assert (done.request_counts.completed, done.request_counts.failed) == (2, 1)
        assert done.output_file_id and done.error_file_id
        out = [json.loads(x) for x in c.files.content(done.output_file_id).text.splitlines()]
        err = [json.loads(x) for x in c.files.content(done.error_file_id).text.splitlines()]
    assert [o["custom_id"] for o in out] == ["doc-0", "doc-2"]
    first = out[0]["response"]
    assert first["status_code"] == 200
    content = first["body"]["choices"][0]["message"]["content"]
    assert json.loads(content) == {"text": "alpha", "id": "doc-0"}
    assert err[0]["custom_id"] == "doc-1"
    assert err[0]["response"]["status_code"] == 400
    assert [r["_custom_id"] for r in server.batch_requests] == [
        "doc-0",
        "doc-1",
        "doc-2",
    ]
    assert server.requests == []  # batch lines are not HTTP chat requests


def _port_closed(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_many_servers_leak_no_threads_or_ports() -> None:
    ports = []
    # One HTTP pool for all clients (building a client's SSL context costs
    # ~40 ms); it keeps a keep-alive connection open to every server, which
    # each server must cut on exit.
    http = openai.DefaultHttpxClient()
    started = time.monotonic()
    for _ in range(25):
        with FakeOpenAI(script=[ANSWER]) as server:
            ports.append(server.port)
            ask(client(server, http_client=http))
            assert server.live_connections() == 1
    elapsed = time.monotonic() - started
    http.close()
    leftover = [t.name for t in threading.enumerate() if t.name.startswith("fake-openai-")]
    assert leftover == []
    assert all(_port_closed(p) for p in ports)
    assert elapsed < 2.5  # ~0.35 s when idle


def test_shutdown_is_quick_while_a_request_is_pending() -> None:
    result: list[BaseException] = []

    def call(server: FakeOpenAI) -> None:
        try:
            ask(client(server, timeout=10))
        except BaseException as e:  # noqa: BLE001
            result.append(e)

    server = FakeOpenAI(script=[Reply(ANSWER, delay=30)]).start()
    t = threading.Thread(target=call, args=(server,))
    t.start()
    while server.count() == 0:
        time.sleep(0.01)
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 1.0  # ~0.01 s when idle
    t.join(2)
    assert not t.is_alive()
    assert isinstance(result[0], openai.APIConnectionError)
