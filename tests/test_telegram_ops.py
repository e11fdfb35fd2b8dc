"""Running the bot unattended: start-up failures, 409 Conflict, one refusal, state that survives restarts, webhooks.

Real python-telegram-bot, real HTTP to the fake Bot API on 127.0.0.1, real SQLite, real processes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fake_telegram import FakeBotApi, callback, captured_logs, command, message
from qa_bot.botstate import StateStore
from qa_bot.config import PROJECT_ROOT
from qa_bot.errors import QaBotError
from qa_bot.telegram import CONFLICT, BotConfig, RunOptions, build_application, serve

TOKEN = "123456789:AAEhBP0av28jLkPLFhO5bRw9Qs3Yhkp2vXo"
SECRET = TOKEN.split(":")[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def logs():
    with captured_logs(TOKEN, "%(levelname)s %(message)s", logging.INFO) as handler:  # httpx quiet, as in run_bot
        yield handler


def _app(retriever, base_url: str, store: StateStore | None = None, config: BotConfig | None = None):
    return build_application(TOKEN, retriever, config or BotConfig(), base_url=base_url, store=store,
                             connect=1.0, read=1.5, write=1.5, poll_read=2.0)


def _bot_env(api_url: str, settings, tmp_path: Path, **extra) -> dict:
    return dict(os.environ, TELEGRAM_BOT_TOKEN=TOKEN, QA_BOT_TELEGRAM_API_URL=api_url, QA_BOT_DOCS=str(settings.docs),
                QA_BOT_INDEX=str(settings.index), XDG_STATE_HOME=str(tmp_path / "state"), PYTHONPATH=str(PROJECT_ROOT), **extra)


def _run_bot(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa_bot.cli", "telegram", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


# --------------------------------------------------------------------------- start-up


def test_rejected_token_is_one_line_without_the_token(seeds_settings, retriever, tmp_path):
    with FakeBotApi(TOKEN) as api:
        api.break_method("getMe", "401")
        started = time.monotonic()
        proc = _run_bot(_bot_env(api.base_url, seeds_settings, tmp_path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out and SECRET not in out and TOKEN not in out
    errors = [line for line in out.splitlines() if "error" in line.lower()]
    assert errors == ["qa-bot: error: Telegram rejected the bot token (401 Unauthorized): check TELEGRAM_BOT_TOKEN or "
                      "--token-file (BotFather's /token shows the current one)"], out
    assert time.monotonic() - started < 30  # before any index is loaded


def test_closed_port_warns_then_gives_up_after_the_startup_timeout(seeds_settings, retriever, tmp_path):
    url = f"http://127.0.0.1:{free_port()}/bot"
    started = time.monotonic()
    proc = _run_bot(_bot_env(url, seeds_settings, tmp_path), "--startup-timeout", "4")
    elapsed = time.monotonic() - started
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Traceback" not in out and SECRET not in out, out
    warnings = [line for line in out.splitlines() if "WARNING" in line]
    assert warnings and all(url in line and "retrying" in line for line in warnings), out
    assert 1 <= len(warnings) <= 3  # every few attempts, not every attempt
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"qa-bot: error: could not reach the Bot API at {url} for 4 s"), out
    assert 3.5 <= elapsed < 40


def test_server_error_forever_and_a_url_without_bot(retriever, logs):
    async def scenario():
        with FakeBotApi(TOKEN) as api:
            api.break_method("getMe", "500")
            options = RunOptions(api_url=api.base_url, startup_timeout=3)
            with pytest.raises(QaBotError, match=r"could not reach the Bot API at .*/bot for 3 s \(getMe: Internal Server Error\)"):
                await serve(_app(retriever, api.base_url), options, asyncio.Event())
            assert 3 <= len(api.calls) <= 10
            root = api.base_url.removesuffix("bot")  # http://127.0.0.1:PORT/ : every call is a 404
            with pytest.raises(QaBotError, match="404 Not Found.*should end in /bot"):
                await serve(_app(retriever, root), RunOptions(api_url=root, startup_timeout=3), asyncio.Event())
            bare = root.rstrip("/")  # http://127.0.0.1:PORT : the token lands in the port
            with pytest.raises(QaBotError, match=r"could not reach .* for 2 s .*should end in /bot") as info:
                await serve(_app(retriever, bare), RunOptions(api_url=bare, startup_timeout=2), asyncio.Event())
            assert SECRET not in str(info.value)

    asyncio.run(scenario())
    warnings = [line for line in logs.lines if line.startswith("WARNING") and "cannot reach the Bot API" in line]
    assert any("/bot (getMe: Internal Server Error)" in line for line in warnings)
    assert any("should end in /bot" in line for line in warnings)


def test_conflict_is_one_clear_line_then_a_bounded_exit(retriever, logs):
    async def scenario():
        with FakeBotApi(TOKEN) as api:
            api.break_method("getUpdates", "409")
            started = time.monotonic()
            with pytest.raises(QaBotError) as info:
                await serve(_app(retriever, api.base_url), RunOptions(api_url=api.base_url, conflict_timeout=3), asyncio.Event())
            assert str(info.value) == CONFLICT
            assert 3 <= time.monotonic() - started < 20
            assert len(api.sent("getUpdates")) >= 2

    asyncio.run(scenario())
    conflicts = [line for line in logs.lines if "Conflict" in line]
    assert len(conflicts) == 1 and "another instance is polling" in conflicts[0]
    assert not any("error while handling an update" in line for line in logs.lines)


def test_a_conflict_that_ends_does_not_stop_the_bot(retriever, logs):
    async def scenario():
        with FakeBotApi(TOKEN) as api:
            api.break_method("getUpdates", "409")
            stop = asyncio.Event()
            task = asyncio.create_task(serve(_app(retriever, api.base_url), RunOptions(api_url=api.base_url, conflict_timeout=6), stop))
            while len(api.sent("getUpdates")) < 2:
                await asyncio.sleep(0.1)
            api.heal("getUpdates")
            api.push(message("Which country recognized the DPRK first?", chat_id=61))
            while not api.sent():
                await asyncio.sleep(0.1)
            await asyncio.sleep(6)
            assert not task.done()
            stop.set()
            await task

    asyncio.run(scenario())
    assert any("carrying on" in line for line in logs.lines)


# --------------------------------------------------------------------------- refusals and state


def test_a_stranger_is_refused_once_even_across_restarts(retriever, tmp_path, logs):
    store_path = tmp_path / "state.sqlite3"

    async def run_once(api, texts_from_stranger: int):
        stop = asyncio.Event()
        store = StateStore(store_path)
        task = asyncio.create_task(serve(_app(retriever, api.base_url, store, BotConfig(allowed_ids=frozenset({1}))),
                                         RunOptions(api_url=api.base_url), stop))
        for _ in range(texts_from_stranger):
            api.push(message("Where did Kim Jong Un meet Putin in 2019?", chat_id=666))
        api.push(message("Which country recognized the DPRK first?", chat_id=1))
        while not [c for c in api.sent() if int(c.params["chat_id"]) == 1]:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        stop.set()
        await task
        store.close()

    async def scenario():
        with FakeBotApi(TOKEN) as api:
            await run_once(api, 3)
            refusals = [c for c in api.sent() if int(c.params["chat_id"]) == 666]
            assert [c.params["text"] for c in refusals] == ["Sorry, this bot is private."]
        with FakeBotApi(TOKEN) as api:
            await run_once(api, 2)
            assert not [c for c in api.sent() if int(c.params["chat_id"]) == 666]

    asyncio.run(scenario())


def test_state_store_survives_reopening(tmp_path):
    path = tmp_path / "s" / "state.sqlite3"
    store = StateStore(path)
    store.set_k(-100, 7)
    assert store.allow(5, 2, 60) and store.allow(5, 2, 60) and not store.allow(5, 2, 60)
    assert store.first_refusal(9) and not store.first_refusal(9)
    store.close()
    again = StateStore(path)
    assert again.get_k(-100, 3) == 7 and again.get_k(-200, 3) == 3
    assert not again.allow(5, 2, 60) and again.allow(5, 2, 60, now=time.time() + 61)
    assert not again.first_refusal(9)
    assert path.stat().st_mode & 0o077 == 0
    assert again._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()


def test_state_store_keeps_recent_answers_for_buttons(tmp_path, monkeypatch):
    from qa_bot import botstate

    monkeypatch.setattr(botstate, "ANSWERS_KEPT", 3)
    store = StateStore(tmp_path / "state.sqlite3")
    now = time.time()
    store.put_answer("old", "asked last month?", 3, 3, "p0", now=now - 30 * 86400)
    for i in range(4):
        store.put_answer(f"k{i}", f"question {i}?", 3, 3, f"p{i}", now=now + i)
    assert store.get_answer("old") is None and store.get_answer("k0") is None  # too old; the oldest past 3
    store.set_shown("k1", 6)
    store.close()
    again = StateStore(tmp_path / "state.sqlite3")
    assert again.get_answer("k1") == ("question 1?", 3, 6, "p1") and again.get_answer("k3") == ("question 3?", 3, 3, "p3")
    again.close()


def test_a_restarted_bot_process_keeps_chat_settings_limits_refusals_and_buttons(seeds_settings, retriever, tmp_path):
    """Two real `qa-bot telegram` processes, one after the other, sharing the default state file."""
    env = None

    def run(api, pushes, until):
        with open(tmp_path / "bot.log", "a") as log:
            proc = subprocess.Popen([sys.executable, "-m", "qa_bot.cli", "telegram"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            api.wait_for(lambda calls: any(c.method == "getUpdates" for c in calls), timeout=120)
            for update in pushes:
                api.push(update)
            api.wait_for(lambda calls: until(api), timeout=60)
            time.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        assert proc.returncode == 0, (tmp_path / "bot.log").read_text()

    def chat(api, chat_id):
        return [c.params["text"] for c in api.sent() if int(c.params["chat_id"]) == chat_id]

    question = "Which country recognized the DPRK first?"
    with FakeBotApi(TOKEN) as api:
        env = _bot_env(api.base_url, seeds_settings, tmp_path, QA_BOT_RATE_LIMIT="2", QA_BOT_ALLOWED_IDS="900,901")
        run(api, [command("/k 1", chat_id=900), message(question, chat_id=901), message(question, chat_id=901),
                  message(question, chat_id=902)],
            lambda a: len(chat(a, 900)) == 1 and len(chat(a, 901)) == 2 and chat(a, 902))
        assert "1 passage(s)" in chat(api, 900)[0] and chat(api, 902) == ["Sorry, this bot is private."]
        first = next(c for c in api.sent() if int(c.params["chat_id"]) == 901 and c.params.get("reply_markup"))
        more = next(b["callback_data"] for row in first.params["reply_markup"]["inline_keyboard"] for b in row
                    if b["callback_data"].startswith("m:"))
    with FakeBotApi(TOKEN) as api:
        env = _bot_env(api.base_url, seeds_settings, tmp_path, QA_BOT_RATE_LIMIT="2", QA_BOT_ALLOWED_IDS="900,901")
        run(api, [message(question, chat_id=900), message(question, chat_id=901), message(question, chat_id=902),
                  callback(more, chat_id=901, uid=901)],
            lambda a: chat(a, 900) and len(chat(a, 901)) == 2)
        [answer] = chat(api, 900)
        assert "001_8cc3fda830c0b3fc.txt:9" in answer and "2. " not in answer  # /k 1 survived the restart
        limited, later = sorted(chat(api, 901), key=lambda t: not t.startswith("You are asking"))
        assert limited == "You are asking faster than I can keep up with; please wait a minute and try again."
        assert "4. " in later and "1. " not in later  # "More" under an answer from before the restart still works
        assert chat(api, 902) == []  # already told once
    state = tmp_path / "state" / "qa-bot" / "telegram" / "bot-123456789.sqlite3"
    assert state.is_file()
    log = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in log and SECRET not in log


# --------------------------------------------------------------------------- webhook


def _post(url: str, update: dict, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, data=json.dumps(update).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_webhook_mode_checks_the_secret_on_every_request(retriever, logs):
    port = free_port()
    hook = f"http://127.0.0.1:{port}/qa-bot-hook"

    async def scenario():
        with FakeBotApi(TOKEN) as api:
            stop = asyncio.Event()
            options = RunOptions(api_url=api.base_url, webhook_url=hook, listen="127.0.0.1", port=port, secret="s3cret_Token-1")
            task = asyncio.create_task(serve(_app(retriever, api.base_url), options, stop))
            while not api.sent("setWebhook"):
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            [call] = api.sent("setWebhook")
            assert call.params["url"] == hook and call.params["secret_token"] == "s3cret_Token-1"
            update = {"update_id": 1, **message("Where did Kim Jong Un meet Putin in 2019?", chat_id=71)}
            assert await asyncio.to_thread(_post, hook, update, None) == 403
            assert await asyncio.to_thread(_post, hook, update, "wrong") == 403
            await asyncio.sleep(0.5)
            assert not api.sent()  # refused requests never reach the handlers
            assert await asyncio.to_thread(_post, hook, update, "s3cret_Token-1") == 200
            while not api.sent():
                await asyncio.sleep(0.05)
            text = api.sent()[0].params["text"]
            assert int(api.sent()[0].params["chat_id"]) == 71 and "004_6e374db3219750da.txt:5" in text
            assert not api.sent("getUpdates")  # no polling beside the webhook
            stop.set()
            await task

    asyncio.run(scenario())


def test_webhook_port_in_use_is_one_line(retriever, logs):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def scenario():
            with FakeBotApi(TOKEN) as api:
                options = RunOptions(api_url=api.base_url, webhook_url=f"http://127.0.0.1:{port}/hook", port=port, secret="abc")
                with pytest.raises(QaBotError, match=f"cannot listen on 127.0.0.1:{port}"):
                    await serve(_app(retriever, api.base_url), options, asyncio.Event())
                assert not api.sent("setWebhook")  # Telegram is never pointed at a port we do not hold

        asyncio.run(scenario())


def test_ctrl_c_during_start_up_retries_leaves_at_once(seeds_settings, tmp_path):
    url = f"http://127.0.0.1:{free_port()}/bot"
    # the default Ctrl-C handling, however pytest was started: a job a shell puts in the background
    # ignores SIGINT, and a process started with SIGINT ignored keeps ignoring it
    proc = subprocess.Popen([sys.executable, "-m", "qa_bot.cli", "telegram", "--startup-timeout", "120"],
                            env=_bot_env(url, seeds_settings, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 130 and out.strip().splitlines()[-1] == "qa-bot: interrupted", out
    assert "Traceback" not in out and "retrying" in out


# --------------------------------------------------------------------------- --watch


def test_watch_answers_from_a_file_added_while_the_bot_runs(tmp_path):
    """A real `qa-bot telegram --watch` process: a question only a new file answers is found once the file lands."""
    import shutil

    from qa_bot.config import DEFAULT_MODEL, Settings

    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("000_32f7cc4d35b4606f.txt", "001_8cc3fda830c0b3fc.txt"):
        shutil.copy(PROJECT_ROOT / "seeds" / name, docs / name)
    settings = Settings(docs=docs, index=tmp_path / "index", model=DEFAULT_MODEL)
    question = "When is the lantern festival of Quenford held?"
    new_file = ("The Quenford lantern festival is held every year on the second Saturday of April. "
                "Visitors carry lanterns of blue glass through the old harbour of Quenford, and the festival "
                "ends with a concert on the pier.\n")

    def answers(api):
        return [c.params["text"] for c in api.sent() if int(c.params["chat_id"]) == 900]

    with FakeBotApi(TOKEN) as api, open(tmp_path / "bot.log", "w") as log:
        env = _bot_env(api.base_url, settings, tmp_path, QA_BOT_WATCH_INTERVAL="1")
        proc = subprocess.Popen([sys.executable, "-m", "qa_bot.cli", "telegram", "--watch"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            api.wait_for(lambda calls: any(c.method == "getUpdates" for c in calls), timeout=120)
            api.push(message(question, chat_id=900))
            api.wait_for(lambda calls: len(answers(api)) == 1, timeout=30)
            assert "quenford.txt" not in answers(api)[0]
            (docs / "quenford.txt").write_text(new_file, encoding="utf-8")
            added = time.monotonic()
            found = False
            while not found and time.monotonic() - added < 30:
                n = len(answers(api))
                api.push(message(question, chat_id=900))
                api.wait_for(lambda calls: len(answers(api)) > n, timeout=30)
                found = "quenford.txt" in answers(api)[-1]
                if not found:
                    time.sleep(1)
            assert found, answers(api)
            assert "second Saturday of April" in answers(api)[-1]
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    out = (tmp_path / "bot.log").read_text()
    assert proc.returncode == 0, out
    assert "Traceback" not in out and SECRET not in out, out
    assert "documents changed; index updated:" in out and "switched to index generation" in out, out
