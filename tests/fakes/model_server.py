"""A small OpenAI-compatible model server on loopback, for the tests: it answers
/v1/models and /v1/chat/completions (streamed or not) with one fixed reply, and records
what each request asked for (path, model, the key from its Authorization header)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLY = "hello from the configured endpoint"


@dataclass
class Seen:
    path: str
    model: str | None
    key: str | None


@dataclass
class ModelServer:
    port: int
    requests: list[Seen] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def _handler(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._record(None)
            self._json({"object": "list", "data": [{"id": "any", "object": "model"}]})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            self._record(body.get("model"))
            if body.get("stream"):
                self._stream(body.get("model"))
            else:
                message = {"role": "assistant", "content": REPLY}
                choice = {"index": 0, "message": message, "finish_reason": "stop"}
                self._json({**_head(body.get("model"), "chat.completion"), "choices": [choice]})

        def _record(self, model: object) -> None:
            auth = self.headers.get("Authorization") or ""
            key = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
            server.requests.append(Seen(self.path, model if isinstance(model, str) else None, key))

        def _json(self, data: dict[str, Any]) -> None:
            raw = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _stream(self, model: object) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            head = _head(model, "chat.completion.chunk")
            delta = {"role": "assistant", "content": REPLY}
            for choice in (
                {"index": 0, "delta": delta, "finish_reason": None},
                {"index": 0, "delta": {}, "finish_reason": "stop"},
            ):
                self._event({**head, "choices": [choice], **_usage()})
            self.wfile.write(b"data: [DONE]\n\n")

        def _event(self, data: dict[str, Any]) -> None:
            self.wfile.write(b"data: " + json.dumps(data).encode() + b"\n\n")
            self.wfile.flush()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def _head(model: object, kind: str) -> dict[str, Any]:
    return {"id": "reply-1", "object": kind, "created": int(time.time()), "model": model}


def _usage() -> dict[str, Any]:
    return {"usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


@contextmanager
def model_server() -> Iterator[ModelServer]:
    state = ModelServer(0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
