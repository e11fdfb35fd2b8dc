"""The Telegram front end: python-telegram-bot handlers around the same Retriever as the CLI.

One handler per behaviour, registered in `build_application`; state lives in bot_data and
chat_data, nothing global. Search runs in a thread so one slow question never stalls others.
"""

from __future__ import annotations

import os

os.environ.setdefault("PTB_TIMEDELTA", "1")  # RetryAfter.retry_after as a timedelta, without a deprecation warning

import asyncio
import html
import logging
import re
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ChatType, MessageLimit, ParseMode
from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
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

from .errors import QaBotError
from .render import NOT_FOUND, citation, html_hit
from .search import MAX_QUESTION_CHARS, Answer

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org/bot"
TOKEN_RE = re.compile(r"^\d{3,15}:[A-Za-z0-9_-]{30,64}$")
MAX_ANSWERS_KEPT = 2000
SORRY = "Sorry, something went wrong while answering. Please try again."


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
    """Per-application state kept in bot_data: recent answers (for buttons) and rate counters."""

    answers: OrderedDict = field(default_factory=OrderedDict)
    recent: dict[int, deque] = field(default_factory=dict)

    def remember(self, stored: StoredAnswer) -> str:
        key = secrets.token_hex(6)
        self.answers[key] = stored
        while len(self.answers) > MAX_ANSWERS_KEPT:
            self.answers.popitem(last=False)
        return key

    def allow(self, user_id: int, limit: int, window: float) -> bool:
        now = time.monotonic()
        q = self.recent.setdefault(user_id, deque())
        while q and now - q[0] > window:
            q.popleft()
        if len(q) >= limit:
            return False
        q.append(now)
        return True


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
    if not answer.found or not answer.hits:
        return [html.escape(NOT_FOUND) if not more_from else "No more passages for this question."]
    limit = MessageLimit.MAX_TEXT_LENGTH
    parts = [html_hit(h) for h in answer.hits]
    for i, hit in enumerate(answer.hits):
        budget = 3500
        while len(parts[i]) > limit - 50 and budget > 200:
            parts[i] = html_hit(hit, limit=budget)
            budget -= 500
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
    from .engine import refreshed

    # a newer index generation (written by `qa-bot index` or a refresh) is picked up between questions
    context.bot_data["retriever"] = retriever = refreshed(context.bot_data["retriever"])
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
    k = context.chat_data.get("k", config.default_k) if context.chat_data is not None else config.default_k
    try:
        answer = await _search(context, question, k)
    except QaBotError as exc:
        await with_retry(config, message.reply_text, str(exc))
        return
    texts = answer_messages(answer)
    markup = None
    if answer.found:
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
    retriever = context.bot_data["retriever"]
    first_titles: dict[str, str] = {}
    for p in retriever.passages:  # one pass: the title of each document, in index order
        first_titles.setdefault(p.source, p.title)
    titles = [f"• {html.escape(title)}" for title in first_titles.values()]
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
    if update.callback_query:
        await with_retry(config, update.callback_query.answer, "Sorry, this bot is private.", show_alert=False)
    elif update.inline_query:
        await with_retry(config, update.inline_query.answer, [], cache_time=0, is_personal=True)
    elif update.effective_message and (chat is None or chat.type == ChatType.PRIVATE or _addressed(update, context)):
        await with_retry(config, update.effective_message.reply_text, "Sorry, this bot is private.")
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
    text = "Indexed documents:\n" + "\n".join(lines)
    await with_retry(_config(context), update.effective_message.reply_text, text[: MessageLimit.MAX_TEXT_LENGTH], parse_mode=ParseMode.HTML)


async def set_k(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    config = _config(context)
    try:
        value = int(context.args[0]) if context.args else None
    except ValueError:
        value = None
    if value is None or not 1 <= value <= 10:
        current = context.chat_data.get("k", config.default_k)
        await with_retry(config, update.effective_message.reply_text, f"Usage: /k N with N from 1 to 10 (now {current}).")
        return
    context.chat_data["k"] = value
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
    stored = state.answers.get(key)
    if stored is None or kind not in ("m", "c"):
        await with_retry(config, query.answer, "This answer has expired. Please ask the question again.", show_alert=True)
        return
    await with_retry(config, query.answer)
    chat_id = query.message.chat.id if query.message else None
    if chat_id is None:
        return
    if kind == "m":
        answer = await _search(context, stored.question, stored.k, stored.shown)
        stored.shown += len(answer.hits)
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
        cite = html.escape(f"{p.source}, ¶{p.paragraph}, lines {p.line_start}–{p.line_end}")
        body = html.escape(p.text)
        blocks.append(f"<code>{cite}</code>\n" + (f"<b>{body}</b>" if p.id == top.id else body))
    text = f"<b>Context</b> · {html.escape(top.title)}\n\n" + "\n\n".join(blocks)
    if len(text) > MessageLimit.MAX_TEXT_LENGTH:
        text = f"<b>Context</b> · {html.escape(top.title)}\n\n" + "\n\n".join(
            f"<code>{html.escape(f'{p.source}, ¶{p.paragraph}, lines {p.line_start}–{p.line_end}')}</code>\n"
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
                description=citation(hit)[:200],
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


def build_application(
    token: str,
    retriever,
    config: BotConfig | None = None,
    base_url: str = DEFAULT_API_URL,
    **timeouts: float,
) -> Application:
    """The bot, wired: builder, timeouts, handlers in one place."""
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(base_url.replace("/bot", "/file/bot"))
        .concurrent_updates(True)
        .connect_timeout(timeouts.get("connect", 10.0))
        .read_timeout(timeouts.get("read", 15.0))
        .write_timeout(timeouts.get("write", 15.0))
        .get_updates_connect_timeout(timeouts.get("connect", 10.0))
        .get_updates_read_timeout(timeouts.get("poll_read", 40.0))
        .connection_pool_size(64)
    )
    app = builder.build()
    app.bot_data["retriever"] = retriever
    app.bot_data["config"] = config or BotConfig()
    app.bot_data["state"] = BotState()

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


def run_bot(args, settings) -> int:
    """`qa-bot telegram`: check the token, load the index, then poll until interrupted."""
    import os
    from pathlib import Path

    from . import engine

    if getattr(args, "token_file", None):
        try:
            raw = Path(args.token_file).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise QaBotError(f"cannot read token file {args.token_file}: {exc.strerror or exc}") from None
    else:
        raw = os.environ.get("TELEGRAM_BOT_TOKEN", "")
    token = check_token(raw)
    install_redaction(token)
    base_url = args.api_url or os.environ.get("QA_BOT_TELEGRAM_API_URL") or DEFAULT_API_URL
    if not re.match(r"^https?://", base_url):
        raise QaBotError(f"--api-url must start with http:// or https:// (got {base_url!r})")
    allowed = parse_allowed_ids(args.allowed_ids if args.allowed_ids is not None else os.environ.get("QA_BOT_ALLOWED_IDS"))
    rate = args.rate_limit if args.rate_limit is not None else int(os.environ.get("QA_BOT_RATE_LIMIT", "10") or 10)
    if rate < 1:
        raise QaBotError("--rate-limit must be at least 1")
    retriever = engine.open_retriever(settings, progress=not args.quiet)
    config = BotConfig(allowed_ids=allowed, rate_limit=rate, default_k=settings.k)
    app = build_application(token, retriever, config, base_url=base_url)
    logging.getLogger("qa_bot").setLevel(logging.INFO)
    logging.getLogger().setLevel(logging.INFO if not args.quiet else logging.WARNING)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    log.info("bot starting: %d passages from %d documents; allow-list %s", len(retriever.passages),
             len(retriever.index.sources()), "on" if allowed else "off")
    app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False, bootstrap_retries=-1)
    return 0
