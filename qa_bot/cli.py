"""The `qa-bot` command: index, ask, repl, eval, telegram.

Imports stay light until a command needs the model, so --help and error paths are instant.
Every user-facing failure is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from .errors import QaBotError

log = logging.getLogger("qa_bot")

EXIT_ERROR = 1
EXIT_USAGE = 2


def _common(parser: argparse.ArgumentParser, k: bool = False) -> None:
    parser.add_argument("--docs", metavar="DIR", help="folder of .txt/.md documents (env QA_BOT_DOCS; default: bundled seeds/)")
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

    p = sub.add_parser("eval", help="measure retrieval on a question file or a BEIR dataset")
    _common(p, k=True)
    p.add_argument("--questions", metavar="FILE", help="question file (default: tests/data/seeds_questions.jsonl)")
    p.add_argument("--beir", metavar="DIR", help="BEIR-layout dataset (corpus.jsonl, queries.jsonl, qrels/)")
    p.add_argument("--split", default="test", help="qrels split for --beir (default test)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("telegram", help="run the Telegram bot (long polling)")
    _common(p, k=True)
    p.add_argument("--token-file", metavar="FILE", help="file holding the bot token (else TELEGRAM_BOT_TOKEN)")
    p.add_argument("--api-url", metavar="URL", help="Bot API base URL (env QA_BOT_TELEGRAM_API_URL)")
    p.add_argument("--allowed-ids", metavar="IDS", help="comma-separated user/chat ids (env QA_BOT_ALLOWED_IDS)")
    p.add_argument("--rate-limit", type=int, metavar="N", help="questions per user per minute (default 10)")
    return parser


def _settings(args, **extra):
    from .config import Settings

    flags = {key: getattr(args, key, None) for key in ("docs", "index", "model", "mode", "threshold", "backend")}
    if getattr(args, "k", None) is not None:
        if not 1 <= args.k <= 100:
            raise QaBotError("-k must be between 1 and 100")
        flags["k"] = args.k
    flags.update(extra)
    try:
        return Settings.from_env(**flags)
    except ValueError as exc:
        raise QaBotError(f"bad setting: {exc}") from None


def cmd_index(args) -> int:
    from . import engine

    settings = _settings(args)
    if args.check:
        from . import index as index_mod

        print(index_mod.check(settings.index, settings.docs))
        return 0
    stored, report = engine.build(settings, progress=not args.quiet, rebuild=args.rebuild)
    if not report.published and not args.quiet:
        print(f"index at {settings.index} is up to date ({report.passages} passages from {report.files} files)")
        return 0
    if not args.quiet:
        print(
            f"indexed {report.passages} passages from {report.files} files into {settings.index} "
            f"({report.embedded} embedded, {report.reused} reused"
            + (f", removed {len(report.removed_files)} files" if report.removed_files else "")
            + (", full rebuild" if report.rebuilt else "")
            + (f", {len(report.skipped_files)} unreadable files skipped" if report.skipped_files else "")
            + ")"
        )
    return 0


def cmd_ask(args) -> int:
    from . import engine
    from .search import clean_question

    settings = _settings(args)
    if not args.jsonl:
        question = clean_question(" ".join(args.question))  # fail fast, before loading anything
    elif args.question:
        raise QaBotError("--jsonl reads questions from standard input; give no question argument")
    retriever = engine.open_retriever(settings, progress=not args.quiet)
    if args.jsonl:
        return _ask_jsonl(retriever, settings.k)
    answer = retriever.ask(question, k=settings.k)
    if args.json:
        from .render import to_json

        print(to_json(answer))
    else:
        from rich.console import Console

        from .render import rich_answer

        Console(highlight=False).print(rich_answer(answer))
    return 0


def _ask_jsonl(retriever, k: int) -> int:
    """One JSON object per input line, in order; a bad line gets an `error` field, not a crash."""
    for line in sys.stdin:
        question = line.rstrip("\n")
        try:
            record = retriever.ask(question, k=k).to_dict()
        except QaBotError as exc:
            record = {"query": " ".join(question.split()), "found": False, "results": [], "error": str(exc)}
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


def cmd_repl(args) -> int:
    from .repl import run_repl

    return run_repl(_settings(args), quiet=args.quiet)


def cmd_eval(args) -> int:
    from pathlib import Path

    from . import engine, evaluate
    from . import index as index_mod
    from .config import DEFAULT_BACKEND
    from .search import Retriever

    settings = _settings(args)
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
        questions = evaluate.load_questions(Path(args.questions) if args.questions else evaluate.DEFAULT_QUESTIONS)
        retriever = engine.open_retriever(settings, progress=not args.quiet)
        result = {"mode": settings.mode, **evaluate.evaluate_questions(retriever, questions)}
        keys = ("hit@1", "hit@3", "hit@5", "mrr", "unanswerable_not_found", "off-topic_not_found",
                "near-topic_not_found", "answerable_not_found")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"qa-bot eval ({settings.mode})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in (key for key in keys if key in result):
        value = result[key]
        table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    Console().print(table)
    for key in ("missed_top3", "answerable_not_found_questions", "unanswerable_found_questions"):
        for q in result.get(key, []):
            print(f"  {key}: {q}")
    return 0


def cmd_telegram(args) -> int:
    from .telegram import run_bot

    return run_bot(args, _settings(args))


COMMANDS = {"index": cmd_index, "ask": cmd_ask, "repl": cmd_repl, "eval": cmd_eval, "telegram": cmd_telegram}


def _setup_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("qa-bot: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.ERROR if quiet else logging.WARNING)
    for noisy in ("httpx", "httpcore", "sentence_transformers", "transformers", "faiss", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not quiet else logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    _setup_logging(getattr(args, "quiet", False))
    try:
        return COMMANDS[args.command](args)
    except QaBotError as exc:
        print(f"qa-bot: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): exit quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"qa-bot: error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""), file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("qa-bot: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
