"""The `qa-bot` command: index, ask, repl, eval, telegram.

Imports stay light until a command needs the model, so --help and error paths are instant.
Every user-facing failure is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .errors import QaBotError

log = logging.getLogger("qa_bot")

EXIT_ERROR = 1
EXIT_USAGE = 2


def _common(parser: argparse.ArgumentParser, k: bool = False) -> None:
    parser.add_argument("--docs", metavar="DIR", help="folder of .txt/.md/.pdf/.html/.docx documents (env QA_BOT_DOCS; default: bundled seeds/)")
    parser.add_argument("--follow-links", action="store_true", default=None,
                        help="also index files reached through links that leave the docs folder")
    parser.add_argument("--index", metavar="DIR", help="where the index lives (env QA_BOT_INDEX; default: embeddings/)")
    parser.add_argument("--model", metavar="NAME", help="sentence-transformers name or path (env QA_BOT_MODEL)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress or warnings")
    parser.add_argument("--backend", choices=("torch", "onnx", "onnx-int8"),
                        help="embedding backend when building the index (env QA_BOT_BACKEND; default: the index's own, else onnx-int8)")
    if k:
        parser.add_argument("-k", type=int, default=None, metavar="N", help="passages per answer (default 3)")
        parser.add_argument("--mode", choices=("hybrid", "dense", "bm25"), help="ranking (env QA_BOT_MODE; default hybrid)")
        parser.add_argument("--threshold", type=float, metavar="S", help="best score below which nothing is found")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa-bot",
        description="Ask questions of a folder of documents; get cited passages back.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("index", help="build or update the index of a docs folder")
    _common(p)
    p.add_argument("--rebuild", action="store_true", help="rebuild from scratch (also to index another docs folder into it)")
    p.add_argument("--check", action="store_true", help="verify every part of the index against its recorded hash")

    p = sub.add_parser("ask", help="answer one question (or --jsonl from stdin)")
    _common(p, k=True)
    p.add_argument("question", nargs="*", help="the question")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--jsonl", action="store_true", help="read questions from stdin, one per line; write JSON lines")

    p = sub.add_parser("repl", help="interactive questions (also reads piped questions)")
    _common(p, k=True)
    p.add_argument("--no-history", action="store_true", help="keep no history of questions on disk")
    p.add_argument("--watch", action="store_true", default=None,
                   help="update the index when the docs folder changes, checked every QA_BOT_WATCH_INTERVAL s "
                        "(default 5; env QA_BOT_WATCH=1)")

    p = sub.add_parser("eval", help="measure retrieval on a question file or a BEIR dataset")
    _common(p, k=True)
    p.add_argument("--questions", metavar="FILE", help="question file (default: tests/data/seeds_questions.jsonl)")
    p.add_argument("--beir", metavar="DIR", help="BEIR-layout dataset (corpus.jsonl, queries.jsonl, qrels/)")
    p.add_argument("--split", help="qrels split for --beir (default test); for a question file with splits, only that split")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--corpus", metavar="DIR", action="append",
                   help="with --questions: ask over these folders together (repeat; copied into INDEX/corpus), "
                        "e.g. --corpus seeds --corpus ../shared/realdocs")

    p = sub.add_parser("telegram", help="run the Telegram bot (long polling, or a webhook with --webhook-url)")
    _common(p, k=True)
    p.add_argument("--token-file", metavar="FILE", help="file holding the bot token (else TELEGRAM_BOT_TOKEN)")
    p.add_argument("--watch", action="store_true", default=None,
                   help="update the index when the docs folder changes, checked every QA_BOT_WATCH_INTERVAL s "
                        "(default 5; env QA_BOT_WATCH=1)")
    p.add_argument("--api-url", metavar="URL", help="Bot API base URL, ending in /bot (env QA_BOT_TELEGRAM_API_URL)")
    p.add_argument("--allowed-ids", metavar="IDS", help="comma-separated user/chat ids (env QA_BOT_ALLOWED_IDS)")
    p.add_argument("--rate-limit", type=int, metavar="N", help="questions per user per minute (env QA_BOT_RATE_LIMIT; default 10)")
    p.add_argument("--state", metavar="FILE",
                   help="SQLite file for per-chat settings, rate limits and refusals (env QA_BOT_STATE; "
                        "default $XDG_STATE_HOME/qa-bot/telegram/bot-ID.sqlite3)")
    p.add_argument("--startup-timeout", type=float, metavar="S",
                   help="give up when the Bot API cannot be reached for S seconds at start-up (env QA_BOT_STARTUP_TIMEOUT; default 300)")
    p.add_argument("--webhook-url", metavar="URL", help="receive updates by webhook at this public https URL instead of polling (env QA_BOT_WEBHOOK_URL)")
    p.add_argument("--listen", metavar="ADDR", help="address the webhook server binds (env QA_BOT_LISTEN; default 127.0.0.1)")
    p.add_argument("--port", type=int, metavar="N", help="port the webhook server binds (env QA_BOT_PORT; default 8443)")
    p.add_argument("--webhook-secret", metavar="SECRET",
                   help="secret Telegram sends with every webhook request (env QA_BOT_WEBHOOK_SECRET; default: a new random one each start)")
    return parser


def _settings(args, **extra):
    from .config import Settings

    flags = {key: getattr(args, key, None) for key in ("docs", "index", "model", "mode", "threshold", "backend", "follow_links")}
    if getattr(args, "k", None) is not None:
        if not 1 <= args.k <= 100:
            raise QaBotError("-k must be between 1 and 100")
        flags["k"] = args.k
    flags.update(extra)
    try:
        return Settings.from_env(**flags)
    except ValueError as exc:
        raise QaBotError(f"bad setting: {exc}") from None


def _shown_query(question: str) -> str:
    """The question as echoed in JSON errors: valid Unicode, whitespace collapsed."""
    from .render import valid_unicode

    return " ".join(valid_unicode(question).split())


def cmd_index(args) -> int:
    from . import engine

    settings = _settings(args)
    from .render import safe_text

    if args.check:
        from . import index as index_mod

        print(safe_text(index_mod.check(settings.index, settings.docs)))
        return 0
    stored, report = engine.build(settings, progress=not args.quiet, rebuild=args.rebuild)
    if not report.published and not args.quiet:
        print(safe_text(f"index at {settings.index} is up to date ({report.passages} passages from {report.files} files)"), flush=True)
    elif not args.quiet:
        print(safe_text(
            f"indexed {report.passages} passages from {report.files} files into {settings.index} "
            f"({report.embedded} embedded, {report.reused} reused"
            + (f", removed {len(report.removed_files)} files" if report.removed_files else "")
            + (", full rebuild" if report.rebuilt else "")
            + (f", {len(report.skipped_files)} unreadable files skipped" if report.skipped_files else "")
            + ")"
        ), flush=True)
    from . import multilingual

    multilingual.after_index(stored, progress=not args.quiet)  # after the summary: the index is published already
    return 0


def cmd_ask(args) -> int:
    if not args.json:
        return _ask(args)
    try:
        return _ask(args)
    except QaBotError as exc:  # --json: the error as JSON on stdout too, then the one line on stderr
        from .render import json_line

        print(json_line({"query": _shown_query(" ".join(args.question)), "error": str(exc)}))
        raise


def _ask(args) -> int:
    from .preload import Preload
    from .query import clean_question

    settings = _settings(args)
    if args.jsonl and args.question:
        raise QaBotError("--jsonl reads questions from standard input; give no question argument")
    if not args.jsonl:
        question = clean_question(" ".join(args.question))  # fail fast, before loading anything
    preload = Preload(settings.index, settings.model, settings.docs)  # the encoder loads while the rest is imported
    try:
        from . import engine

        retriever = engine.open_retriever(settings, progress=not args.quiet, preload=preload)
    finally:
        preload.release()
    if args.jsonl:
        return _ask_jsonl(retriever, settings.k)
    answer = retriever.ask(question, k=settings.k)
    from .render import console, print_answer, to_json

    if args.json:
        print(to_json(answer))
    else:
        print_answer(console(), answer)
    return 0


def _ask_jsonl(retriever, k: int) -> int:
    """One JSON object per input line, in order; a bad line gets an `error` field, not a crash.

    Lines are split on \\n and decoded one by one (bad bytes replaced), so output stays aligned.
    """
    from .render import json_line
    from .repl import input_lines

    for question in input_lines(sys.stdin):
        try:
            record = retriever.ask(question, k=k).to_dict()
        except QaBotError as exc:
            record = {"query": _shown_query(question), "found": False, "verdict": "none", "results": [], "error": str(exc)}
        sys.stdout.write(json_line(record) + "\n")
        sys.stdout.flush()
    return 0


def cmd_repl(args) -> int:
    from .repl import run_repl

    return run_repl(_settings(args), quiet=args.quiet, history=not args.no_history, watch=args.watch)


def cmd_eval(args) -> int:
    from pathlib import Path

    from . import engine, evaluate
    from . import index as index_mod
    from .config import DEFAULT_BACKEND
    from .search import Retriever

    settings = _settings(args)
    args.split_given = args.split is not None
    args.split = args.split or "test"
    if args.beir:
        data = evaluate.load_beir(Path(args.beir), args.split)
        backend = settings.backend or DEFAULT_BACKEND
        suffix = "" if backend == "torch" else f"-{backend}"
        cache = settings.index / f"beir-{Path(args.beir).resolve().name}{suffix}"
        try:
            previous = index_mod.load(cache)
        except QaBotError:
            previous = None
        encoder, meta = engine.embedder_for(settings, cache, backend, previous)
        stored = evaluate.beir_index(data, encoder, cache, progress=not args.quiet, meta=meta)
        result = evaluate.evaluate_beir(Retriever(stored, engine.query_encoder(stored, settings), mode=settings.mode,
                                                  threshold=settings.threshold), data)
        result["backend"] = backend
        result = {"dataset": Path(args.beir).name, "split": args.split, "mode": settings.mode, **result}
        keys = ("ndcg@10", "recall@100", "mrr@10")
    else:
        split = args.split if args.split_given else None
        if args.corpus:
            from dataclasses import replace as _replace

            docs = evaluate.combined_docs([Path(c) for c in args.corpus], settings.index / "corpus")
            settings = _replace(settings, docs=docs)
        questions = evaluate.load_questions(Path(args.questions) if args.questions else evaluate.DEFAULT_QUESTIONS, split)
        retriever = engine.open_retriever(settings, progress=not args.quiet)
        result = {"mode": settings.mode, **({"split": split} if split else {}), **evaluate.evaluate_questions(retriever, questions)}
        keys = ("questions", "hit@1", "hit@3", "hit@5", "mrr", "en_hit@1", "en_hit@3", "answerable_lost", "answerable_not_found",
                "metadata_answered_cited", "near-topic_not_answered", "near-topic_not_found",
                "off-topic_not_found", "ru_hit@5", "ko_hit@5")
        if not args.json:
            for style, row in result.get("styles", {}).items():
                result[f"{style} (n={row['n']}) hit@1 / hit@3"] = f"{row['hit@1']:.3f} / {row['hit@3']:.3f}"
            keys += tuple(key for key in result if key.endswith(" hit@1 / hit@3"))
    from .render import console, json_line, safe_text

    if args.json:
        print(json_line(result))
        return 0
    from rich.table import Table

    table = Table(title=f"qa-bot eval ({settings.mode})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in (key for key in keys if key in result):
        value = result[key]
        table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    console().print(table)
    for key in ("missed_top3", "answerable_not_found_questions", "unanswerable_found_questions"):
        for q in result.get(key, []):
            print(f"  {key}: {safe_text(q)}")
    return 0


def cmd_telegram(args) -> int:
    from .telegram import run_bot

    return run_bot(args, _settings(args))


COMMANDS = {"index": cmd_index, "ask": cmd_ask, "repl": cmd_repl, "eval": cmd_eval, "telegram": cmd_telegram}


class SafeFormatter(logging.Formatter):
    """Log lines for a terminal: file names and document text in messages lose escape sequences."""

    def format(self, record: logging.LogRecord) -> str:
        from .render import safe_text

        return safe_text(super().format(record))


def _setup_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("qa-bot: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.ERROR if quiet else logging.WARNING)
    for noisy in ("httpx", "httpcore", "sentence_transformers", "transformers", "faiss", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not quiet else logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    return _main(argv)[0]


def _main(argv: list[str] | None = None) -> tuple[int, str | None]:
    """The exit status, and the command that ran."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE, None
    _setup_logging(getattr(args, "quiet", False))
    if sys.stdout is None:  # started with stdout closed (`>&-`): answers go nowhere, not into a traceback
        sys.stdout = open(os.devnull, "w", encoding="utf-8")
    return _command(args), args.command


def _command(args) -> int:
    try:
        return COMMANDS[args.command](args)
    except QaBotError as exc:
        from .render import safe_text

        print(f"qa-bot: error: {safe_text(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): exit quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        from .render import safe_text

        print(safe_text(f"qa-bot: error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")), file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("qa-bot: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    code, command = _main()
    if command == "ask":
        _exit_at_once(code)
    sys.exit(code)


def _exit_at_once(code: int) -> None:
    """End a finished `ask` without tearing the interpreter down (about 0.05 s at 1M passages:
    the ONNX session, FAISS and every module freed one by one). Its answers are printed and
    flushed here, it writes nothing more, and the OS drops its file locks and maps."""
    try:
        if sys.stdout is not None:  # None when started with stdout closed (`>&-`)
            sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass  # the reader went away, or stdout is closed: nothing more can reach it
    except OSError as exc:  # a full disk under a redirected stdout
        print(f"qa-bot: error: cannot write the answer: {exc.strerror or exc}", file=sys.stderr)
        code = code or EXIT_ERROR
    except KeyboardInterrupt:
        code = 130
    try:
        logging.shutdown()
        if sys.stderr is not None:
            sys.stderr.flush()
    except (OSError, ValueError, KeyboardInterrupt):
        pass
    os._exit(code)


if __name__ == "__main__":
    run()
