"""A fake Telegram Bot API server on 127.0.0.1 for end-to-end tests of the real bot.

It speaks the Bot API's HTTP protocol (form-encoded requests, {"ok": ..., "result": ...}
answers), feeds scripted updates through getUpdates, records every call, and can inject
faults: 429 with retry_after, 500, 401, 409, a request that hangs, a malformed update; once
(`inject`) or on every call until healed (`break_method`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

JSON_FIELDS = {"reply_markup", "results", "allowed_updates", "entities", "link_preview_options", "reply_parameters"}
BOT_USER = {"id": 4242, "is_bot": True, "first_name": "QA", "username": "qa_test_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": True}


@dataclass
class Call:
    method: str
    params: dict
    at: float = field(default_factory=time.monotonic)


class FakeBotApi:
    """Start with `with FakeBotApi(token) as api:`; point python-telegram-bot at `api.base_url`."""

    def __init__(self, token: str):
        self.token = token
        self.calls: list[Call] = []
        self.faults: dict[str, list[tuple]] = {}
        self.broken: dict[str, tuple] = {}
        self._updates: list[dict] = []
        self._next_update = 1
        self._next_message = 1000
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._closing = False

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "FakeBotApi":
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                api._handle(self)

            do_GET = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/bot"

    # ------------------------------------------------------------------ scripting
    def push(self, update: dict) -> int:
        """Queue an update (update_id assigned here); returns its id."""
        with self._cond:
            update = dict(update, update_id=self._next_update)
            self._next_update += 1
            self._updates.append(update)
            self._cond.notify_all()
            return update["update_id"]

    def inject(self, method: str, kind: str, **info) -> None:
        """Make the next call of `method` fail: kind 429 (retry_after=), 500, hang (seconds=), malformed."""
        with self._cond:
            self.faults.setdefault(method, []).append((kind, info))

    def break_method(self, method: str, kind: str, **info) -> None:
        """Make every call of `method` fail with `kind` until `heal(method)`."""
        with self._cond:
            self.broken[method] = (kind, info)

    def heal(self, method: str) -> None:
        with self._cond:
            self.broken.pop(method, None)

    def sent(self, method: str = "sendMessage") -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate, timeout: float = 30.0) -> list[Call]:
        """Wait until predicate(calls) is true; return the calls."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.calls):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; calls so far: {[c.method for c in self.calls]}")
                self._cond.wait(min(left, 0.2))
            return list(self.calls)

    # ------------------------------------------------------------------ protocol
    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _params(self, h: BaseHTTPRequestHandler) -> dict:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length).decode() if length else ""
        ctype = h.headers.get("Content-Type", "")
        if "json" in ctype and raw:
            return json.loads(raw)
        params = dict(parse_qsl(raw, keep_blank_values=True))
        for key in JSON_FIELDS & set(params):
            try:
                params[key] = json.loads(params[key])
            except json.JSONDecodeError:
                pass
        return params

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = h.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != f"bot{self.token}":
            return self._reply(h, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
        method = parts[1]
        params = self._params(h)
        with self._cond:
            self.calls.append(Call(method, params))
            self._cond.notify_all()
            fault = self.faults[method].pop(0) if self.faults.get(method) else self.broken.get(method)
        if fault:
            kind, info = fault
            if kind == "429":
                return self._reply(h, 429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after",
                                            "parameters": {"retry_after": info.get("retry_after", 1)}})
            if kind == "500":
                return self._reply(h, 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})
            if kind == "401":
                return self._reply(h, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            if kind == "409":
                time.sleep(info.get("seconds", 0.2))
                return self._reply(h, 409, {"ok": False, "error_code": 409, "description": "Conflict: terminated by other "
                                            "getUpdates request; make sure that only one bot instance is running"})
            if kind == "hang":
                time.sleep(info.get("seconds", 5))
                return self._reply(h, 200, {"ok": True, "result": []})  # the client has long given up
            if kind == "malformed":
                with self._cond:
                    bad = {"update_id": self._next_update, "message": {"text": "no chat, no date, no id"}}
                    self._next_update += 1
                return self._reply(h, 200, {"ok": True, "result": [bad]})
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            return self._reply(h, 200, {"ok": True, "result": True})
        return self._reply(h, 200, {"ok": True, "result": handler(params)})

    def api_getMe(self, params):
        return BOT_USER

    def api_deleteWebhook(self, params):
        return True

    def api_getUpdates(self, params):
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 1.0)
        deadline = time.monotonic() + timeout
        with self._cond:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and not self._closing and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return list(self._updates[:100])

    def _message(self, params) -> dict:
        with self._cond:
            self._next_message += 1
            mid = self._next_message
        chat_id = int(params["chat_id"])
        msg = {"message_id": mid, "date": int(time.time()), "from": BOT_USER,
               "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"}, "text": params.get("text", "")}
        if isinstance(params.get("reply_markup"), dict):
            msg["reply_markup"] = params["reply_markup"]
        return msg

    def api_sendMessage(self, params):
        return self._message(params)

    def api_editMessageText(self, params):
        return self._message(params)

    def api_answerCallbackQuery(self, params):
        return True

    def api_answerInlineQuery(self, params):
        return True


# ---------------------------------------------------------------------- update builders

_ids = iter(range(1, 10**9))


def user(uid: int = 111, name: str = "Ann") -> dict:
    return {"id": uid, "is_bot": False, "first_name": name}


def message(text: str, chat_id: int = 111, uid: int | None = None, chat_type: str = "private", reply_to_bot: bool = False,
            entities: list | None = None) -> dict:
    uid = chat_id if uid is None and chat_id > 0 else (uid or 111)
    msg = {"message_id": next(_ids), "date": int(time.time()), "from": user(uid),
           "chat": {"id": chat_id, "type": chat_type, **({"title": "Group"} if chat_type != "private" else {})}, "text": text}
    if entities:
        msg["entities"] = entities
    if reply_to_bot:
        msg["reply_to_message"] = {"message_id": 1, "date": int(time.time()), "from": BOT_USER,
                                   "chat": msg["chat"], "text": "an earlier answer"}
    return {"message": msg}


def command(text: str, **kw) -> dict:
    cmd = text.split()[0]
    return message(text, entities=[{"type": "bot_command", "offset": 0, "length": len(cmd)}], **kw)


def callback(data: str, chat_id: int = 111, uid: int | None = None) -> dict:
    uid = uid or chat_id
    return {"callback_query": {"id": str(next(_ids)), "from": user(uid), "chat_instance": "ci", "data": data,
                               "message": {"message_id": 5, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
                                           "from": BOT_USER, "text": "answer"}}}


def inline_query(text: str, uid: int = 111) -> dict:
    return {"inline_query": {"id": str(next(_ids)), "from": user(uid), "query": text, "offset": ""}}


class ListHandler(logging.Handler):
    """Keeps every formatted log line, so tests can check what was (and was not) logged."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@contextlib.contextmanager
def captured_logs(token: str, fmt: str, level: int = logging.DEBUG):
    """Every log line written while the block runs, with the token redaction installed as the bot
    installs it; afterwards, neither the token nor its secret half may appear in any line."""
    from qa_bot.telegram import install_redaction

    handler = ListHandler()
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    redact = install_redaction(token)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.removeFilter(redact)
        for h in root.handlers:
            h.removeFilter(redact)
        root.setLevel(old_level)
    secret = token.split(":")[1]
    assert not any(token in line or secret in line for line in handler.lines), "the token leaked into a log line"
