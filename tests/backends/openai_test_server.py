"""A real OpenAI-compatible HTTP server on loopback around a tiny transformers causal LM, for backend tests.

It serves ``GET /v1/models`` and ``POST /v1/chat/completions`` over a real socket: the prompt is the model's chat
template over the request's messages and the answer comes from ``model.generate`` (greedy, ``max_tokens``), with
``finish_reason`` ``length`` or ``stop``. Knobs for failure tests: ``fail_next`` answers that many requests with
HTTP ``fail_status`` (500), ``sleep_s`` delays every answer (past a client's timeout), ``reject_schema`` answers
400 to requests that carry ``response_format``, ``api_key`` demands ``Authorization: Bearer <key>``, and
``answer`` (a function of the messages) replaces generation for positive cases: the answer then still travels the
real HTTP path.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OpenAiTestServer:
    """Start with :meth:`start`, stop with :meth:`stop`; ``base_url`` ends in ``/v1``."""

    def __init__(self, model: Any, tokenizer: Any, model_name: str = "tiny-gpt2") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.fail_next = 0
        self.fail_status = 500
        self.sleep_s = 0.0
        self.reject_schema = False
        self.api_key: str | None = None
        self.answer: Callable[[list[dict[str, str]]], str] | None = None
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> OpenAiTestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def reset(self) -> None:
        self.fail_next = 0
        self.fail_status = 500
        self.sleep_s = 0.0
        self.reject_schema = False
        self.api_key = None
        self.answer = None
        self.requests.clear()

    def complete(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Status and JSON answer for one chat completions request."""
        with self._lock:
            self.requests.append(body)
            if self.fail_next > 0:
                self.fail_next -= 1
                return self.fail_status, {"error": {"message": "injected failure"}}
        if self.sleep_s:
            time.sleep(self.sleep_s)
        if self.reject_schema and "response_format" in body:
            return 400, {"error": {"message": "response_format json_schema is not supported"}}
        if body.get("model") != self.model_name:
            return 404, {"error": {"message": f"model {body.get('model')!r} not found"}}
        messages = body["messages"]
        if self.answer is not None:
            text, finish = self.answer(messages), "stop"
        else:
            text, finish = self._generate(messages, int(body.get("max_tokens", 16)))
        return 200, {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": self.model_name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        }

    def _generate(self, messages: list[dict[str, str]], max_tokens: int) -> tuple[str, str]:
        import torch

        prompt = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        encoded = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        with self._lock, torch.inference_mode():
            output = self.model.generate(
                **encoded,
                max_new_tokens=max_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id,
            )
        new = output[0, encoded["input_ids"].shape[1] :].tolist()
        eos = self.tokenizer.eos_token_id
        if eos in new:
            return self.tokenizer.decode(new[: new.index(eos)], skip_special_tokens=True), "stop"
        return self.tokenizer.decode(new, skip_special_tokens=True), "length"


def _handler(server: OpenAiTestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client gave up (timeout test)

        def _authorized(self) -> bool:
            if server.api_key is None:
                return True
            if self.headers.get("Authorization") == f"Bearer {server.api_key}":
                return True
            self._send(401, {"error": {"message": "bad API key"}})
            return False

        def do_GET(self) -> None:
            if not self._authorized():
                return
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": server.model_name, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            if not self._authorized():
                return
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            self._send(*server.complete(body))

    return Handler
