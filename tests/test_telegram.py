"""The real python-telegram-bot Application, over real HTTP, against a fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
import time

import pytest

from fake_telegram import FakeBotApi, callback, captured_logs, command, inline_query, message
from qa_bot.errors import QaBotError
from qa_bot.telegram import BotConfig, build_application, check_token, parse_allowed_ids

TOKEN = "123456789:AAEhBP0av28jLkPLFhO5bRw9Qs3Yhkp2vXo"


@pytest.fixture
def logs():
    with captured_logs(TOKEN, "%(name)s %(levelname)s %(message)s") as handler:
        yield handler


@contextlib.asynccontextmanager
async def running(api: FakeBotApi, retriever, config: BotConfig | None = None):
    app = build_application(TOKEN, retriever, config or BotConfig(), base_url=api.base_url,
                            connect=2.0, read=1.5, write=2.0, poll_read=2.0)
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1, bootstrap_retries=5)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def until(api: FakeBotApi, predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(api):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out; calls: {[(c.method, str(c.params.get('text', ''))[:60]) for c in api.calls]}")


def texts(api: FakeBotApi, chat_id: int | None = None) -> list[str]:
    return [c.params["text"] for c in api.sent() if chat_id is None or int(c.params["chat_id"]) == chat_id]


def n_sent(n: int, chat_id: int | None = None):
    return lambda api: len(texts(api, chat_id)) >= n


def _callback_data(call) -> list[str]:
    markup = call.params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def _visible(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def test_private_question_gets_cited_html_answer_and_buttons(retriever, logs, seeds_settings):
    async def scenario():
        with FakeBotApi(TOKEN) as api:
            async with running(api, retriever):
                api.push(message("Where did Kim Jong Un meet Putin in 2019?"))
                await until(api, n_sent(1))
                [call] = api.sent()
                assert call.params["parse_mode"] == "HTML"
                text = call.params["text"]
                assert len(text) <= 4096
                assert "004_6e374db3219750da.txt:5" in text and "Big landmark in DPRK-Russia friendship" in text
                assert "April 26, 2023" in text and "Vladivostok" in text
                assert text.count("<b>") == text.count("</b>")
                assert re.search(r"<b>1\. ", text) and "2. " in text and "3. " in text
                data = _callback_data(call)
                assert [d[:2] for d in data] == ["m:", "c:"]
                assert all(len(d.encode()) <= 64 for d in data)
                # every quoted passage is really at its cited lines
                for m in re.finditer(r"<code>([^<:]+):(\d+) \(¶\d+, lines? (\d+)(?:–(\d+))?\)</code>", text):
                    source, start = m.group(1), int(m.group(3))
                    lines = (seeds_settings.docs / source).read_text(encoding="utf-8").splitlines()
                    assert lines[start - 1].strip()

                # More: the next passages for the same question
                api.push(callback(data[0]))
                await until(api, n_sent(2))
                more = texts(api)[1]
                assert re.search(r"<b>4\. ", more) and "1. " not in _visible(more).split("\n")[0]
                # Context: the paragraphs around the top passage
                api.push(callback(data[1]))
                await until(api, n_sent(3))
                ctx = texts(api)[2]
                assert ctx.startswith("<b>Context</b>") and "txt:5 (¶" in ctx and "txt:7 (¶" in ctx  # cited as everywhere
                # a button from before a restart (unknown key) gets a polite notice
                api.push(callback("m:0123456789ab"))
                await until(api, lambda a: any("expired" in c.params.get("text", "") for c in a.sent("answerCallbackQuery")))

    asyncio.run(scenario())


def test_commands_help_sources_and_k(retriever, logs):
    async def scenario():
        with FakeBotApi(TOKEN) as api:
            async with running(api, retriever):
                api.push(command("/start"))
                await until(api, n_sent(1))
                assert "Big landmark in DPRK-Russia friendship" in texts(api)[0] and "/sources" in texts(api)[0]
                api.push(command("/sources"))
                await until(api, n_sent(2))
                assert "002_a8a3f57de7ba005e.txt</code>: 32 paragraphs" in texts(api)[1]  # 11 article, 21 navigation
                api.push(command("/k 1"))
                await until(api, n_sent(3))
                api.push(message("Which country recognized the DPRK first?"))
                await until(api, n_sent(4))
                answer = texts(api)[3]
                assert "001_8cc3fda830c0b3fc.txt:9" in answer and "2. " not in _visible(answer)
                # the two best sentences score within 0.003 (int8 noise picks either); one of them is bold
                assert ("<b>As is known, the Soviet Union was the first to recognize" in answer
                        or "<b>It was signed on March 17, 1949" in answer) and "Soviet Union was the first" in answer
                api.push(command("/k 99"))
                await until(api, n_sent(5))
                assert "Usage" in texts(api)[4]
                api.push(message("What is the capital of Australia?"))
                await until(api, n_sent(6))
                assert texts(api)[5] == "Nothing relevant found in the documents."
                api.push(message("x" * 1500))
                await until(api, n_sent(7))
                assert "too long" in texts(api)[6]

    asyncio.run(scenario())


def test_help_lists_every_document_title(retriever, logs):
    """/help names each document by its title, read with one SQL query instead of a pass over all passages."""
    expected: dict[str, str] = {}
    for row in range(len(retriever.passages)):  # the test may walk the seeds; the bot must not
        p = retriever.passages[row]
        expected.setdefault(p.source, p.title)
    assert 1 < len(expected) <= 30

    async def scenario():
        with FakeBotApi(TOKEN) as api:
            async with running(api, retriever):
                api.push(command("/help"))
                await until(api, n_sent(1))
                text = texts(api)[0]
                bullets = [line[2:] for line in text.splitlines() if line.startswith("• ")]
                assert sorted(bullets) == sorted(html.escape(t) for t in expected.values())
                assert "/sources" in text and "/k N" in text

    asyncio.run(scenario())


def test_group_behaviour(retriever, logs):
    async def scenario():
        with FakeBotApi(TOKEN) as api:
            async with running(api, retriever):
                group = -1001
                api.push(message("just chatting about Vladivostok", chat_id=group, uid=5, chat_type="supergroup"))
                api.push(command("/ask When was the partnership treaty signed?", chat_id=group, uid=5, chat_type="supergroup"))
                await until(api, n_sent(1))
                assert "June 19" in texts(api)[0]
                api.push(message("@qa_test_bot Which country recognized the DPRK first?", chat_id=group, uid=6, chat_type="supergroup"))
                await until(api, n_sent(2))
                assert "001_8cc3fda830c0b3fc.txt:9" in texts(api)[1]
                api.push(message("Where did Kim Jong Un meet Putin in 2019?", chat_id=group, uid=7, chat_type="supergroup", reply_to_bot=True))
                await until(api, n_sent(3))
                assert "Vladivostok" in texts(api)[2]
                await asyncio.sleep(0.5)
                assert len(texts(api)) == 3  # the unaddressed message got nothing

    asyncio.run(scenario())


def test_inline_mode(retriever, logs):
    async def scenario():
        with FakeBotApi(TOKEN) as api:
            async with running(api, retriever):
                api.push(inline_query("Where did Kim Jong Un meet Putin in 2019?"))
                await until(api, lambda a: a.sent("answerInlineQuery"))
                results = api.sent("answerInlineQuery")[0].params["results"]
                assert results and results[0]["title"] == "Big landmark in DPRK-Russia friendship"
                assert "004_6e374db3219750da.txt:5" in results[0]["description"]
                assert "Vladivostok" in results[0]["input_message_content"]["message_text"]

    asyncio.run(scenario())


def test_allow_list_refuses_strangers_politely(retriever, logs):
    async def scenario():
        with FakeBotApi(TOKEN) as api:
            async with running(api, retriever, BotConfig(allowed_ids=frozenset({111}))):
                api.push(message("Where did Kim Jong Un meet Putin in 2019?", chat_id=222))
                api.push(inline_query("Putin", uid=222))
                await until(api, n_sent(1, 222))
                await until(api, lambda a: a.sent("answerInlineQuery"))
                assert texts(api, 222) == ["Sorry, this bot is private."]
                assert api.sent("answerInlineQuery")[0].params["results"] == []
                api.push(message("Where did Kim Jong Un meet Putin in 2019?", chat_id=111))
                await until(api, n_sent(1, 111))
                assert "Vladivostok" in texts(api, 111)[0]
                await asyncio.sleep(0.3)
                assert texts(api, 222) == ["Sorry, this bot is private."]

    asyncio.run(scenario())


def test_rate_limit_per_user(retriever, logs):
    async def scenario():
        with FakeBotApi(TOKEN) as api:
            async with running(api, retriever, BotConfig(rate_limit=2)):
                for _ in range(3):
                    api.push(message("Which country recognized the DPRK first?", chat_id=300))
                api.push(message("Which country recognized the DPRK first?", chat_id=301))
                await until(api, n_sent(3, 300))
                await until(api, n_sent(1, 301))
                assert sum("faster than I can keep up" in t for t in texts(api, 300)) == 1
                assert "001_8cc3fda830c0b3fc.txt:9" in texts(api, 301)[0]

    asyncio.run(scenario())


def test_escaping_and_length_limit(encoder, tmp_path, logs):
    from qa_bot import engine
    from qa_bot.config import Settings

    docs = tmp_path / "docs"
    docs.mkdir()
    hostile = "The <b>markup</b> & <script>alert('x')</script> test proves that the tags are shown as text to readers."
    long_para = " ".join(f"Clause {i} of the hostile agreement lists obligation number {i} in great detail for the parties." for i in range(200))
    (docs / "hostile.txt").write_text(f"Tags <and> ampersands & co\n\n{hostile}\n\n{long_para}\n", encoding="utf-8")
    retriever = engine.open_retriever(Settings(docs=docs, index=tmp_path / "idx"), progress=False)

    async def scenario():
        with FakeBotApi(TOKEN) as api:
            async with running(api, retriever, BotConfig(default_k=5)):
                api.push(message("Which test proves that tags are shown as text with markup and script?"))
                # a long answer comes as several messages: wait for the one that holds the fifth passage
                await until(api, lambda a: "<b>5. " in "\n".join(texts(a)))
                assert len(texts(api)) >= 2 or len(texts(api)[0]) > 3000
                for text in texts(api):
                    assert len(text) <= 4096
                    assert "<script>" not in text and "<and>" not in text
                    assert text.count("<b>") == text.count("</b>")
                joined = "\n".join(texts(api))
                assert "&lt;script&gt;" in joined and "Tags &lt;and&gt; ampersands &amp; co" in joined
                before = len(texts(api))
                api.push(message("<b>unclosed & raw"))  # user text is escaped too, or not echoed at all
                await until(api, n_sent(before + 1))
                assert "<b>unclosed" not in texts(api)[-1]

    asyncio.run(scenario())


class Exploding:
    """The real retriever, except that one question raises inside the handler."""

    def __init__(self, retriever):
        self._r = retriever

    def __getattr__(self, name):
        return getattr(self._r, name)

    def ask(self, question, k=3, offset=0):
        if "explode" in question:
            raise RuntimeError("boom inside search")
        return self._r.ask(question, k, offset)


def test_faults_are_survived(retriever, logs):
    async def scenario():
        with FakeBotApi(TOKEN) as api:
            async with running(api, Exploding(retriever)):
                # 429 with retry_after on sendMessage: waits, retries, delivers
                api.inject("sendMessage", "429", retry_after=1)
                api.push(message("Which country recognized the DPRK first?", chat_id=401))
                await until(api, lambda a: len(a.sent()) >= 2)
                first, second = api.sent()[:2]
                assert second.at - first.at >= 0.9
                # 500 from the Bot API: backs off, retries
                api.inject("sendMessage", "500")
                api.push(message("When was the partnership treaty signed?", chat_id=402))
                await until(api, lambda a: len([c for c in a.sent() if int(c.params["chat_id"]) == 402]) >= 2)
                # a hanging sendMessage: times out, retries
                api.inject("sendMessage", "hang", seconds=4)
                api.push(message("Where did Kim Jong Un meet Putin in 2019?", chat_id=403))
                await until(api, lambda a: len([c for c in a.sent() if int(c.params["chat_id"]) == 403]) >= 2)
                # faults on getUpdates itself: 429, 500, a hang, a malformed update
                api.inject("getUpdates", "429", retry_after=1)
                api.inject("getUpdates", "500")
                api.inject("getUpdates", "hang", seconds=4)
                api.inject("getUpdates", "malformed")
                api.push(message("Who issued the press statement?", chat_id=404))
                await until(api, n_sent(1, 404), timeout=40)
                assert "003_13ccf5689b473067.txt" in texts(api, 404)[0]
                # an exception inside a handler: an apology, then business as usual
                api.push(message("please explode now", chat_id=405))
                await until(api, n_sent(1, 405))
                assert texts(api, 405) == ["Sorry, something went wrong while answering. Please try again."]
                api.push(message("Which country recognized the DPRK first?", chat_id=405))
                await until(api, n_sent(2, 405))
                assert "001_8cc3fda830c0b3fc.txt:9" in texts(api, 405)[1]
                for chat in (401, 402, 403):
                    assert any("<code>" in t for t in texts(api, chat))

    asyncio.run(scenario())
    assert any("boom inside search" in line for line in logs.lines)


def test_concurrent_chats_are_all_answered(retriever, logs):
    async def scenario():
        with FakeBotApi(TOKEN) as api:
            async with running(api, retriever):
                for chat in range(500, 520):
                    api.push(message("When was the partnership treaty signed?", chat_id=chat))
                await until(api, n_sent(20), timeout=60)
                assert {int(c.params["chat_id"]) for c in api.sent()} == set(range(500, 520))

    asyncio.run(scenario())


def test_token_and_allow_list_validation():
    assert check_token(f"  {TOKEN}\n") == TOKEN
    with pytest.raises(QaBotError, match="no bot token"):
        check_token("")
    with pytest.raises(QaBotError, match="malformed"):
        check_token("not-a-token")
    assert parse_allowed_ids("1, -1002, 3") == frozenset({1, -1002, 3})
    with pytest.raises(QaBotError, match="not a numeric"):
        parse_allowed_ids("1,abc")


def test_cli_token_errors_before_any_network_call(tmp_path, monkeypatch, capsys):
    from qa_bot.cli import main

    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["telegram"]) == 1
    assert "no bot token" in capsys.readouterr().err
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "12345:short")
    assert main(["telegram"]) == 1
    err = capsys.readouterr().err
    assert "malformed" in err and "12345:short" not in err
    assert main(["telegram", "--token-file", str(tmp_path / "nope")]) == 1
    assert "cannot read token file" in capsys.readouterr().err


def test_qa_bot_telegram_process_answers_a_private_question(seeds_settings, retriever, tmp_path):
    """`qa-bot telegram` as a user runs it: a real process, real HTTP, the local Bot API server."""
    import os
    import signal
    import subprocess
    import sys

    with FakeBotApi(TOKEN) as api:
        env = dict(os.environ, TELEGRAM_BOT_TOKEN=TOKEN, QA_BOT_TELEGRAM_API_URL=api.base_url,
                   QA_BOT_DOCS=str(seeds_settings.docs), QA_BOT_INDEX=str(seeds_settings.index))
        log_file = tmp_path / "bot.log"
        with open(log_file, "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "qa_bot.cli", "telegram"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            api.wait_for(lambda calls: any(c.method == "getUpdates" for c in calls), timeout=120)
            api.push(message("Where did Kim Jong Un meet Putin in 2019?", chat_id=777))
            api.wait_for(lambda calls: any(c.method == "sendMessage" for c in calls), timeout=60)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        text = api.sent()[0].params["text"]
        assert "004_6e374db3219750da.txt:5" in text and "Vladivostok" in text
        output = log_file.read_text()
        assert TOKEN not in output and TOKEN.split(":")[1] not in output
        assert "Traceback" not in output
        assert proc.returncode == 0, output
