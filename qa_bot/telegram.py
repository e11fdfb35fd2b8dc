"""The Telegram front end: python-telegram-bot handlers around the same Retriever as the CLI.

One handler per behaviour, registered in `build_application`; state lives in bot_data and a
SQLite store (botstate.py), nothing global. Search runs in a thread so one slow question never
stalls others. `serve` runs it: bounded start-up, long polling or a webhook, a clean exit on 409.
"""

from __future__ import annotations

import os

os.environ.setdefault("PTB_TIMEDELTA", "1")  # RetryAfter.retry_after as a timedelta, without a deprecation warning

import asyncio
import html
import logging
import re
import secrets
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ChatType, MessageLimit, ParseMode
from telegram.error import Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from .botstate import StateStore
from .config import env_number, state_dir
from .errors import QaBotError, first_line
from .query import MAX_QUESTION_CHARS
from .render import NOT_FOUND, citation, cite, html_hit, html_notice, notice
from .search import Answer

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org/bot"
TOKEN_RE = re.compile(r"^\d{3,15}:[A-Za-z0-9_-]{30,64}$")
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what Telegram accepts as a webhook secret_token
SORRY = "Sorry, something went wrong while answering. Please try again."
REFUSAL = "Sorry, this bot is private."


# --------------------------------------------------------------------------- configuration


@dataclass
class BotConfig:
    """How the bot behaves: access list, rate limit, passages per answer."""

    allowed_ids: frozenset[int] = frozenset()
    rate_limit: int = 10  # questions per user per minute
    rate_window: float = 60.0
    default_k: int = 3
    retries: int = 5
    max_backoff: float = 30.0


@dataclass
class RunOptions:
    """How the bot connects: start-up patience, conflict patience, polling or a webhook."""

    api_url: str = DEFAULT_API_URL
    startup_timeout: float = 300.0  # give up when the Bot API cannot be reached for this long at start-up
    conflict_timeout: float = 60.0  # give up when another instance keeps polling with this token this long
    warn_every: int = 3  # one warning per this many failed start-up attempts
    webhook_url: str | None = None  # set: receive updates by webhook instead of polling
    listen: str = "127.0.0.1"
    port: int = 8443
    secret: str | None = None  # the webhook's secret token (random when not given)


def check_token(token: str | None) -> str:
    token = (token or "").strip()
    if not token:
        raise QaBotError("no bot token: set TELEGRAM_BOT_TOKEN or pass --token-file FILE")
    if not TOKEN_RE.match(token):
        raise QaBotError("the bot token is malformed: expected the form 123456789:AAE... that BotFather gives")
    return token


def parse_allowed_ids(raw: str | None) -> frozenset[int]:
    ids = set()
    for part in (raw or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            ids.add(int(part))
        except ValueError:
            raise QaBotError(f"QA_BOT_ALLOWED_IDS: {part!r} is not a numeric user or chat id") from None
    return frozenset(ids)


def redact(text: str, token: str) -> str:
    """`text` with the token (and its secret half on its own) replaced by [TOKEN]."""
    text = text.replace(token, "[TOKEN]")
    secret = token.partition(":")[2]
    return text.replace(secret, "[TOKEN]") if secret else text


class RedactToken(logging.Filter):
    """Replace the bot token wherever it appears in a log record."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg = message.replace(self.token, "[TOKEN]")
            record.args = None
        if record.exc_info and record.exc_info[1] is not None and self.token in str(record.exc_info[1]):
            record.exc_text = None
            exc = record.exc_info[1]
            record.exc_info = None
            record.msg = f"{record.msg} ({type(exc).__name__}: {str(exc).replace(self.token, '[TOKEN]')})"
        return True


def _check_port(listen: str, port: int) -> None:
    """Bind each of the webhook's addresses once and let them go: a taken port (or an address that
    is not this machine's) fails here, before Telegram is told to send updates to it."""
    for family, kind, proto, _, address in socket.getaddrinfo(listen or None, port, type=socket.SOCK_STREAM,
                                                               flags=socket.AI_PASSIVE):
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            probe.bind(address)


def install_redaction(token: str) -> RedactToken:
    """Silence per-request HTTP logging and redact the token on every handler."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    redact = RedactToken(token)
    root = logging.getLogger()
    for handler in root.handlers:
        handler.addFilter(redact)
    root.addFilter(redact)
    return redact


# --------------------------------------------------------------------------- state


@dataclass
class StoredAnswer:
    question: str
    k: int
    shown: int
    top_id: str | None


@dataclass
class BotState:
    """Per-application state kept in bot_data: recent answers (for the buttons), chat settings,
    rate-limit windows and refusals, all in the SQLite store, so they survive restarts."""

    store: StateStore = field(default_factory=StateStore)

    def remember(self, stored: StoredAnswer) -> str:
        key = secrets.token_hex(6)
        self.store.put_answer(key, stored.question, stored.k, stored.shown, stored.top_id)
        return key

    def recall(self, key: str) -> StoredAnswer | None:
        found = self.store.get_answer(key)
        return StoredAnswer(*found) if found else None

    def allow(self, user_id: int, limit: int, window: float) -> bool:
        return self.store.allow(user_id, limit, window)


def _state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.bot_data["state"]


def _config(context: ContextTypes.DEFAULT_TYPE) -> BotConfig:
    return context.bot_data["config"]


# --------------------------------------------------------------------------- sending


async def with_retry(config: BotConfig, call, *args, **kwargs):
    """Call the Bot API, waiting out 429s and backing off on network errors and 5xx answers."""
    delay = 0.5
    for attempt in range(config.retries):
        try:
            return await call(*args, **kwargs)
        except RetryAfter as exc:
            wait = exc.retry_after.total_seconds() if hasattr(exc.retry_after, "total_seconds") else float(exc.retry_after)
            log.warning("rate limited by Telegram; retrying in %.1f s", wait)
            await asyncio.sleep(min(wait, config.max_backoff))
        except (TimedOut, NetworkError) as exc:
            if attempt == config.retries - 1:
                raise
            log.warning("network error (%s); retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, config.max_backoff)
    return await call(*args, **kwargs)


def answer_messages(answer: Answer, more_from: int = 0) -> list[str]:
    """The answer as Telegram HTML messages, each within the 4096-character limit."""
    if not answer.hits:
        if more_from:
            return ["No more passages for this question."]
        return [html.escape(notice(answer) or NOT_FOUND)]
    limit = MessageLimit.MAX_TEXT_LENGTH
    parts = [html_hit(h) for h in answer.hits]
    for i, hit in enumerate(answer.hits):
        budget = 3500
        while len(parts[i]) > limit - 50 and budget > 200:
            parts[i] = html_hit(hit, limit=budget)
            budget -= 500
    note = html_notice(answer) if not more_from else None
    if note:
        parts[0] = f"{note}\n\n{parts[0]}"
    messages, current = [], ""
    for part in parts:
        if current and len(current) + 2 + len(part) > limit:
            messages.append(current)
            current = part
        else:
            current = f"{current}\n\n{part}" if current else part
    if current:
        messages.append(current)
    return messages


def keyboard(key: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("More", callback_data=f"m:{key}"), InlineKeyboardButton("Context", callback_data=f"c:{key}")]]
    )


async def _search(context: ContextTypes.DEFAULT_TYPE, question: str, k: int, offset: int = 0) -> Answer:
    from .engine import refreshed, settle

    # a newer index generation (written by `qa-bot index` or a refresh) is picked up between questions
    retriever = refreshed(context.bot_data["retriever"])
    if retriever is not context.bot_data["retriever"]:
        context.bot_data["retriever"] = retriever
        settle()  # answers still in flight keep the old one: the next switch collects it
    return await asyncio.to_thread(retriever.ask, question, k, offset)


async def reply_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    config, state = _config(context), _state(context)
    message = update.effective_message
    user = update.effective_user
    question = question.strip()
    if not question:
        await with_retry(config, message.reply_text, help_text(context), parse_mode=ParseMode.HTML)
        return
    if len(question) > MAX_QUESTION_CHARS:
        await with_retry(config, message.reply_text, f"That question is too long (over {MAX_QUESTION_CHARS} characters). Please shorten it.")
        return
    if user and not state.allow(user.id, config.rate_limit, config.rate_window):
        await with_retry(config, message.reply_text, "You are asking faster than I can keep up with; please wait a minute and try again.")
        return
    chat = update.effective_chat
    k = state.store.get_k(chat.id, config.default_k) if chat else config.default_k
    try:
        answer = await _search(context, question, k)
    except QaBotError as exc:
        await with_retry(config, message.reply_text, str(exc))
        return
    texts = answer_messages(answer)
    markup = None
    if answer.hits:
        key = state.remember(StoredAnswer(question, k, len(answer.hits), answer.hits[0].passage.id))
        markup = keyboard(key)
    for i, text in enumerate(texts):
        await with_retry(
            config,
            message.reply_text,
            text,
            parse_mode=ParseMode.HTML,
            disable_web_page_preview=True,
            reply_markup=markup if i == len(texts) - 1 else None,
        )


def help_text(context: ContextTypes.DEFAULT_TYPE) -> str:
    """The /start and /help message: the documents' titles (one SQL query) and the commands."""
    retriever = context.bot_data["retriever"]
    titles = [f"• {html.escape(title)}" for title in retriever.index.titles().values()]
    return (
        "I answer questions with quoted passages from these documents, each with a citation:\n"
        + "\n".join(titles[:30])
        + ("\n…" if len(titles) > 30 else "")
        + "\n\nAsk in plain English, e.g. <i>Where did Kim Jong Un meet Putin in 2019?</i>\n"
        "In groups: /ask QUESTION, mention me, or reply to me.\n\n"
        "/sources: the documents and their paragraph counts\n"
        "/k N: passages per answer (1–10)\n"
        "/help: this message\n"
        "Inline: type @my_name and a question in any chat."
    )


# --------------------------------------------------------------------------- handlers


async def guard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every other handler: enforce the allow-list, skip updates with no sender."""
    config = _config(context)
    if not config.allowed_ids:
        return
    user = update.effective_user
    chat = update.effective_chat
    ids = {x.id for x in (user, chat) if x is not None}
    if ids & config.allowed_ids:
        return
    who = user.id if user else chat.id if chat else None
    if update.callback_query:  # always answered, or the button spins; the text only once
        first = who is not None and _state(context).store.first_refusal(who)
        await with_retry(config, update.callback_query.answer, REFUSAL if first else None, show_alert=False)
    elif update.inline_query:
        await with_retry(config, update.inline_query.answer, [], cache_time=0, is_personal=True)
    elif update.effective_message and (chat is None or chat.type == ChatType.PRIVATE or _addressed(update, context)):
        if who is not None and _state(context).store.first_refusal(who):  # a stranger is told once, then ignored
            await with_retry(config, update.effective_message.reply_text, REFUSAL)
    raise ApplicationHandlerStop


def _addressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    message = update.effective_message
    if message is None:
        return False
    text = message.text or ""
    username = context.bot.username or ""
    if username and f"@{username.lower()}" in text.lower():
        return True
    reply = message.reply_to_message
    return bool(reply and reply.from_user and reply.from_user.id == context.bot.id)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await with_retry(_config(context), update.effective_message.reply_text, help_text(context), parse_mode=ParseMode.HTML)


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    retriever = context.bot_data["retriever"]
    lines = [f"• <code>{html.escape(s)}</code>: {n} paragraphs" for s, n in retriever.index.sources().items()]
    lines += [f"• <code>{html.escape(s)}</code>: skipped ({html.escape(r)})" for s, r in retriever.index.skipped().items()]
    text = "Indexed documents:\n" + "\n".join(lines)
    await with_retry(_config(context), update.effective_message.reply_text, text[: MessageLimit.MAX_TEXT_LENGTH], parse_mode=ParseMode.HTML)


async def set_k(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    config = _config(context)
    try:
        value = int(context.args[0]) if context.args else None
    except ValueError:
        value = None
    store, chat_id = _state(context).store, update.effective_chat.id
    if value is None or not 1 <= value <= 10:
        current = store.get_k(chat_id, config.default_k)
        await with_retry(config, update.effective_message.reply_text, f"Usage: /k N with N from 1 to 10 (now {current}).")
        return
    store.set_k(chat_id, value)
    await with_retry(config, update.effective_message.reply_text, f"I will show {value} passage(s) per answer in this chat.")


async def ask_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await reply_answer(update, context, " ".join(context.args or []))


async def private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await reply_answer(update, context, update.effective_message.text or "")


async def group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In groups, answer only messages that mention the bot or reply to it."""
    if not _addressed(update, context):
        return
    text = update.effective_message.text or ""
    username = context.bot.username or ""
    if username:
        text = re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE)
    await reply_answer(update, context, text)


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    config, state = _config(context), _state(context)
    query = update.callback_query
    kind, _, key = (query.data or "").partition(":")
    stored = state.recall(key) if kind in ("m", "c") else None
    if stored is None:
        await with_retry(config, query.answer, "This answer has expired. Please ask the question again.", show_alert=True)
        return
    await with_retry(config, query.answer)
    chat_id = query.message.chat.id if query.message else None
    if chat_id is None:
        return
    if kind == "m":
        answer = await _search(context, stored.question, stored.k, stored.shown)
        stored.shown += len(answer.hits)
        state.store.set_shown(key, stored.shown)
        texts = answer_messages(answer, more_from=stored.shown) if answer.hits else ["No more passages for this question."]
        for i, text in enumerate(texts):
            await with_retry(
                config, context.bot.send_message, chat_id, text, parse_mode=ParseMode.HTML,
                reply_markup=keyboard(key) if answer.hits and i == len(texts) - 1 else None,
            )
        return
    retriever = context.bot_data["retriever"]
    top = retriever.index.find(stored.top_id)
    if top is None:
        await with_retry(config, context.bot.send_message, chat_id, "That passage is no longer in the index.")
        return
    around = retriever.neighbours(top, 1, 1)
    blocks = []
    for p in around:
        body = html.escape(p.text)
        blocks.append(f"<code>{html.escape(cite(p))}</code>\n" + (f"<b>{body}</b>" if p.id == top.id else body))
    text = f"<b>Context</b> · {html.escape(top.title)}\n\n" + "\n\n".join(blocks)
    if len(text) > MessageLimit.MAX_TEXT_LENGTH:
        text = f"<b>Context</b> · {html.escape(top.title)}\n\n" + "\n\n".join(
            f"<code>{html.escape(cite(p))}</code>\n"
            + html.escape(p.text[:1000] + ("…" if len(p.text) > 1000 else ""))
            for p in around
        )
    await with_retry(config, context.bot.send_message, chat_id, text, parse_mode=ParseMode.HTML)


async def inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    config, state = _config(context), _state(context)
    query = update.inline_query
    text = (query.query or "").strip()
    if not text or len(text) > MAX_QUESTION_CHARS or not state.allow(query.from_user.id, config.rate_limit, config.rate_window):
        await with_retry(config, query.answer, [], cache_time=0, is_personal=True)
        return
    answer = await _search(context, text, 5)
    results = []
    for hit in answer.hits:
        body = html_hit(hit, limit=3500)
        results.append(
            InlineQueryResultArticle(
                id=hit.passage.id[:32],
                title=f"{hit.passage.title}"[:100],
                description=(("may not answer this exactly · " if answer.verdict == "related" else "") + citation(hit))[:200],
                input_message_content=InputTextMessageContent(body, parse_mode=ParseMode.HTML),
            )
        )
    await with_retry(config, query.answer, results, cache_time=30, is_personal=False)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure (token redacted by the logging filter); apologise to the user once."""
    error = context.error
    if isinstance(error, (NetworkError, TimedOut, RetryAfter)):
        log.warning("Telegram network problem: %s", error)
        return
    log.error("error while handling an update: %s: %s", type(error).__name__, error)
    if isinstance(update, Update) and update.effective_message and not isinstance(error, Forbidden):
        try:
            await update.effective_message.reply_text(SORRY)
        except TelegramError:
            pass


# --------------------------------------------------------------------------- application


class PollRequest:
    """Factory of the getUpdates HTTP client that remembers the last status code (409: another poller)."""

    @staticmethod
    def make(connect: float, read: float):
        from telegram.request import HTTPXRequest

        class _Watched(HTTPXRequest):
            last_status: int | None = None

            async def do_request(self, *args, **kwargs):
                code, payload = await super().do_request(*args, **kwargs)
                self.last_status = code
                return code, payload

        return _Watched(connection_pool_size=1, connect_timeout=connect, read_timeout=read, write_timeout=connect)


def build_application(
    token: str,
    retriever,
    config: BotConfig | None = None,
    base_url: str = DEFAULT_API_URL,
    store: StateStore | None = None,
    **timeouts: float,
) -> Application:
    """The bot, wired: builder, timeouts, handlers in one place. `store` None keeps state in memory."""
    poll = PollRequest.make(timeouts.get("connect", 10.0), timeouts.get("poll_read", 40.0))
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(base_url.replace("/bot", "/file/bot"))
        .concurrent_updates(True)
        .connect_timeout(timeouts.get("connect", 10.0))
        .read_timeout(timeouts.get("read", 15.0))
        .write_timeout(timeouts.get("write", 15.0))
        .get_updates_request(poll)
        .connection_pool_size(64)
    )
    app = builder.build()
    app.bot_data["retriever"] = retriever
    app.bot_data["config"] = config or BotConfig()
    app.bot_data["state"] = BotState(store=store or StateStore())
    app.bot_data["poll_request"] = poll

    app.add_handler(TypeHandler(Update, guard), group=-1)
    app.add_handler(CommandHandler(["start", "help"], start))
    app.add_handler(CommandHandler("sources", sources))
    app.add_handler(CommandHandler("k", set_k))
    app.add_handler(CommandHandler("ask", ask_command))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, private_text))
    app.add_handler(MessageHandler(filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND, group_text))
    app.add_handler(CallbackQueryHandler(button))
    app.add_handler(InlineQueryHandler(inline))
    app.add_error_handler(on_error)
    return app


# --------------------------------------------------------------------------- running


def _ends_in_bot(url: str) -> bool:
    return urlsplit(url).path.rstrip("/").endswith("/bot")


def _reason(exc: BaseException, token: str) -> str:
    """One line saying why a Bot API call failed, without the token."""
    return redact(first_line(exc), token)


async def _start_with_retries(what: str, action, token: str, options: RunOptions, deadline: float,
                              stop: asyncio.Event | None = None) -> None:
    """Run a start-up step until it succeeds; warn every few failures; give up at `deadline`.

    A rejected token (401) or a wrong URL (404) gives up at once: retrying cannot help. Setting
    `stop` while it waits to retry ends it as an interrupt.
    """
    url = options.api_url
    hint = "" if _ends_in_bot(url) else "; the URL should end in /bot, e.g. https://api.telegram.org/bot"
    attempt, delay = 0, 0.5
    while True:
        attempt += 1
        try:
            await action()
            return
        except InvalidToken as exc:
            cause = str(exc.__cause__ or "")
            if "Not Found" in cause or "404" in cause:
                raise QaBotError(f"the Bot API at {url} answered 404 Not Found: the token is unknown or the URL is "
                                 "wrong (it should end in /bot, e.g. https://api.telegram.org/bot)") from None
            raise QaBotError("Telegram rejected the bot token (401 Unauthorized): check TELEGRAM_BOT_TOKEN or "
                             "--token-file (BotFather's /token shows the current one)") from None
        except (TelegramError, OSError) as exc:
            if isinstance(exc, Conflict):
                raise QaBotError(CONFLICT) from None
            reason = _reason(exc, token)
            left = deadline - time.monotonic()
            if left <= delay:
                raise QaBotError(f"could not reach the Bot API at {url} for {options.startup_timeout:g} s "
                                 f"({what}: {reason}){hint}; giving up") from None
            if attempt == 1 or attempt % options.warn_every == 0:
                log.warning("cannot reach the Bot API at %s (%s: %s)%s; attempt %d, retrying for another %.0f s",
                            url, what, reason, hint, attempt, left)
            try:
                await asyncio.wait_for((stop or asyncio.Event()).wait(), delay)
            except asyncio.TimeoutError:
                pass
            else:
                raise KeyboardInterrupt
            delay = min(delay * 2, 10.0)


async def check_bot_api(token: str, options: RunOptions) -> None:
    """Wait until the Bot API accepts the token (getMe), within the start-up timeout.

    Done before the index is loaded, so a bad token or URL is reported before a long build.
    """
    from telegram import Bot
    from telegram.request import HTTPXRequest

    _quiet_ptb_logs()
    bot = Bot(token, base_url=options.api_url, request=HTTPXRequest(connection_pool_size=1, connect_timeout=10.0, read_timeout=15.0))
    await _start_with_retries("getMe", bot.initialize, token, options, time.monotonic() + options.startup_timeout)
    await bot.shutdown()


CONFLICT = ("409 Conflict: another instance is polling Telegram with this bot token; "
            "stop the other one (or give this one its own bot)")


def _not_retry_loop(record: logging.LogRecord) -> bool:
    return "networkloop" not in record.pathname


def _quiet_ptb_logs() -> None:
    """PTB's retry loop and Updater log full tracebacks for failures that serve() reports in one line."""
    ptb = logging.getLogger("telegram.ext")
    if _not_retry_loop not in ptb.filters:
        ptb.addFilter(_not_retry_loop)
    logging.getLogger("telegram.ext.Updater").setLevel(logging.CRITICAL)


async def serve(app: Application, options: RunOptions, stop: asyncio.Event | None = None) -> None:
    """Run the bot until `stop` is set (or SIGINT/SIGTERM when None); raise QaBotError on a fatal problem.

    Start-up (getMe, then deleteWebhook or setWebhook) is retried with a warning every few
    attempts for `options.startup_timeout` seconds; once running, network trouble is retried
    for ever. A 409 Conflict that lasts `options.conflict_timeout` seconds ends the run.
    """
    _quiet_ptb_logs()
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    fatal: list[str] = []
    conflict_since: list[float] = []

    def on_poll_error(exc: TelegramError) -> None:
        if isinstance(exc, Conflict):
            if not conflict_since:
                conflict_since.append(time.monotonic())
                log.error("%s; exiting in %.0f s if it goes on", CONFLICT, options.conflict_timeout)
        elif isinstance(exc, (NetworkError, TimedOut, RetryAfter)):
            log.warning("Telegram network problem while polling: %s", _reason(exc, app.bot.token))
        else:
            log.error("error while polling for updates: %s: %s", type(exc).__name__, _reason(exc, app.bot.token))

    async def watch_conflict() -> None:
        request = app.bot_data["poll_request"]
        while not stop.is_set():
            await asyncio.sleep(0.2)
            if conflict_since and getattr(request, "last_status", None) == 200:
                conflict_since.clear()  # the other instance went away
                log.warning("the other instance stopped polling; carrying on")
            elif conflict_since and time.monotonic() - conflict_since[0] >= options.conflict_timeout:
                fatal.append(CONFLICT)
                stop.set()

    deadline = time.monotonic() + options.startup_timeout
    token = app.bot.token
    await _start_with_retries("getMe", app.initialize, token, options, deadline, stop)
    watcher = None
    try:
        if options.webhook_url:
            async def start_webhook():
                try:
                    _check_port(options.listen, options.port)  # before setWebhook, which PTB sends before it binds
                    await app.updater.start_webhook(
                        listen=options.listen, port=options.port, url_path=urlsplit(options.webhook_url).path or "/",
                        webhook_url=options.webhook_url, secret_token=options.secret, allowed_updates=Update.ALL_TYPES,
                        bootstrap_retries=0, drop_pending_updates=False)
                except RuntimeError as exc:  # tornado missing: PTB says which extra to install
                    raise QaBotError(f"webhook mode unavailable: {first_line(exc)}") from None
                except OSError as exc:  # the port is taken or the address is not ours
                    raise QaBotError(f"cannot listen on {options.listen}:{options.port}: {exc.strerror or exc}") from None
            await _start_with_retries("setWebhook", start_webhook, token, options, deadline, stop)
        else:
            async def start_polling():
                await app.updater.start_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False,
                                                bootstrap_retries=0, error_callback=on_poll_error)
            await _start_with_retries("deleteWebhook", start_polling, token, options, deadline, stop)
            watcher = asyncio.create_task(watch_conflict())
        await app.start()
        log.info("bot running (%s); Ctrl-C stops it",
                 f"webhook {options.webhook_url}, listening on {options.listen}:{options.port}" if options.webhook_url
                 else "long polling")
        await stop.wait()
    finally:
        if watcher:
            watcher.cancel()
        if app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
    if fatal:
        raise QaBotError(fatal[0])


def _option(flag, env: str, kind: type = str, minimum: float | None = None):
    """A flag's value, else the environment variable's; a bad number names the variable."""
    if flag is not None:
        return flag
    if kind is str:
        return os.environ.get(env) or None
    try:
        return env_number(env, kind, minimum)
    except ValueError as exc:
        raise QaBotError(f"bad setting: {exc}") from None


def read_options(args) -> tuple[BotConfig, RunOptions, Path | None]:
    """Flags and QA_BOT_* variables to the bot's configuration, checked; every problem is one line."""
    base_url = _option(args.api_url, "QA_BOT_TELEGRAM_API_URL") or DEFAULT_API_URL
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise QaBotError(f"--api-url (or QA_BOT_TELEGRAM_API_URL) must start with http:// or https:// (got {base_url!r})")
    allowed = parse_allowed_ids(args.allowed_ids if args.allowed_ids is not None else os.environ.get("QA_BOT_ALLOWED_IDS"))
    rate = _option(args.rate_limit, "QA_BOT_RATE_LIMIT", int, 1)
    if rate is not None and rate < 1:
        raise QaBotError("bad setting: --rate-limit must be at least 1")
    startup = _option(args.startup_timeout, "QA_BOT_STARTUP_TIMEOUT", float, 0)
    if startup is not None and not (startup >= 0 and startup != float("inf")):
        raise QaBotError("bad setting: --startup-timeout must be a number of seconds")
    port = _option(args.port, "QA_BOT_PORT", int, 1)
    if port is not None and not 1 <= port <= 65535:
        raise QaBotError(f"bad setting: --port must be between 1 and 65535 (got {port})")
    webhook = _option(args.webhook_url, "QA_BOT_WEBHOOK_URL")
    if webhook and not re.match(r"^https?://[^/\s]+", webhook):
        raise QaBotError(f"bad setting: --webhook-url must be an http(s) URL; Telegram itself needs https (got {webhook!r})")
    secret = _option(args.webhook_secret, "QA_BOT_WEBHOOK_SECRET")
    if secret is not None and not SECRET_RE.match(secret):
        raise QaBotError("bad setting: --webhook-secret (or QA_BOT_WEBHOOK_SECRET) must be 1-256 characters of "
                         "A-Z, a-z, 0-9, _ and -")
    state = _option(args.state, "QA_BOT_STATE")
    config = BotConfig(allowed_ids=allowed, rate_limit=rate or 10)
    options = RunOptions(api_url=base_url, startup_timeout=300.0 if startup is None else startup, webhook_url=webhook,
                         listen=_option(args.listen, "QA_BOT_LISTEN") or "127.0.0.1", port=port or 8443,
                         secret=secret or (secrets.token_urlsafe(32) if webhook else None))
    return config, options, Path(state).expanduser() if state else None


def default_state_path(token: str) -> Path:
    """One state file per bot (keyed by the bot's public id, never the secret half of the token)."""
    return state_dir() / "telegram" / f"bot-{token.partition(':')[0]}.sqlite3"


def run_bot(args, settings) -> int:
    """`qa-bot telegram`: check settings and token, load the index, then run until interrupted."""
    from . import engine
    from .watch import Watcher, watch_settings

    config, options, state_path = read_options(args)
    watching, interval = watch_settings(getattr(args, "watch", None))
    if getattr(args, "token_file", None):
        try:
            raw = Path(args.token_file).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise QaBotError(f"cannot read token file {args.token_file}: {getattr(exc, 'strerror', None) or exc}") from None
    else:
        raw = os.environ.get("TELEGRAM_BOT_TOKEN", "")
    token = check_token(raw)
    install_redaction(token)
    if not _ends_in_bot(options.api_url):
        log.warning("the Bot API URL %s does not end in /bot; Telegram's is https://api.telegram.org/bot", options.api_url)
    store = StateStore(state_path or default_state_path(token))
    watcher = None
    logging.getLogger("qa_bot").setLevel(logging.INFO)
    logging.getLogger().setLevel(logging.INFO if not args.quiet else logging.WARNING)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        log.info("connecting to the Bot API at %s", options.api_url)
        asyncio.run(check_bot_api(token, options))
        retriever = engine.open_retriever(settings, progress=not args.quiet)
        engine.settle()
        config.default_k = settings.k
        app = build_application(token, retriever, config, base_url=options.api_url, store=store)
        log.info("bot starting: %d passages from %d documents; allow-list %s; state in %s", len(retriever.passages),
                 len(retriever.index.sources()), "on" if config.allowed_ids else "off", store.path)
        watcher = Watcher(settings, interval).start() if watching else None
        from . import multilingual

        multilingual.prepare_in_background(retriever.index)  # the first Russian question then need not wait
        del retriever  # the bot holds it now, and lets it go at the first switch to a newer generation
        asyncio.run(serve(app, options))
    finally:
        if watcher is not None:
            watcher.stop()
        store.close()
    return 0
