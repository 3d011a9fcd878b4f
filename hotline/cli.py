"""The ``hotline`` command: parse options, pick the event loop, run the server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hotline import __version__
from hotline.config import PARSERS, Config, ConfigError, env_name, load_config

# Libraries that log every step at INFO; their chatter hides our own start-up lines.
_NOISY_LOGGERS = ("pgserver", "aiohttp.access")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``hotline`` command."""
    parser = argparse.ArgumentParser(prog="hotline", description="Hotline contact-center server")
    parser.add_argument("--version", action="version", version=f"hotline {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the SIP, web and database services")
    _add_serve_options(serve)
    from asr.cli import add_parser as add_asr_parser

    add_asr_parser(commands)
    return parser


def _add_serve_options(serve: argparse.ArgumentParser) -> None:
    def option(flag: str, field: str, help_text: str, metavar: str | None = None) -> None:
        # Default None = "not given", so load_config can fall back to the environment.
        serve.add_argument(
            flag,
            dest=field,
            type=_typed(field),
            default=None,
            metavar=metavar,
            help=f"{help_text} (env {env_name(field)})",
        )

    option("--sip-host", "sip_host", "SIP bind address, UDP and TCP [0.0.0.0]", "HOST")
    option("--sip-port", "sip_port", "SIP port, UDP and TCP [5060]", "PORT")
    option("--http-host", "http_host", "web/API bind address [0.0.0.0]", "HOST")
    option("--http-port", "http_port", "web/API port [8080]", "PORT")
    option("--rtp-ports", "rtp_ports", "RTP port range [20000-20999]", "LOW-HIGH")
    option("--data-dir", "data_dir", "data directory [./var]", "DIR")
    option("--database-url", "database_url", "PostgreSQL URL [embedded server]", "URL")
    option("--log-level", "log_level", "DEBUG, INFO, WARNING or ERROR [INFO]", "LEVEL")
    option("--answer-delay", "answer_delay", "seconds a call rings before the answer [0]", "SECS")
    option("--vosk-model", "vosk_model", "vosk model directory for English speech", "DIR")
    option(
        "--digest-algorithms",
        "digest_algorithms",
        "digest algorithms for phones, preferred first [SHA-256,MD5]",
        "LIST",
    )
    serve.add_argument(
        "--record",
        action="store_true",
        default=None,
        help=f"record every call as a stereo WAV in DATA_DIR/recordings (env {env_name('record')})",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        default=None,
        help=f"seed demo users (supervisor, SIP 1001/1002) (env {env_name('demo')})",
    )


def _typed(field: str) -> Callable[[str], Any]:
    parse = PARSERS[field]

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            # argparse turns ArgumentTypeError into "argument --x: <message>", exit status 2.
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = field  # shown by argparse in "invalid <name> value" messages
    return convert


def parse_config(argv: Sequence[str], env: Mapping[str, str]) -> Config:
    """Turn ``hotline serve ...`` arguments plus the environment into a `Config`.

    Exits through argparse (status 2) on a bad command line or environment variable.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    cli_values = {name: value for name, value in vars(args).items() if name in PARSERS}
    try:
        return load_config(cli_values, env)
    except ConfigError as exc:
        parser.error(str(exc))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hotline`` console script; returns the process exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["asr"]:
        return _asr(argv)
    config = parse_config(argv, os.environ)
    _configure_logging(config.log_level)
    _raise_file_limit()
    from hotline.app import STARTUP_ERRORS, serve  # imported late so --help stays fast

    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(serve(config))
    except KeyboardInterrupt:
        return 130
    except STARTUP_ERRORS as exc:
        print(f"hotline: error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def _asr(argv: Sequence[str]) -> int:
    from asr.cli import run

    args = build_parser().parse_args(argv)
    _configure_logging("WARNING")
    env_model = os.environ.get(env_name("vosk_model"), "").strip()
    return run(args, Path(env_model) if env_model else None)


def _raise_file_limit() -> None:
    """Each call holds two RTP sockets: lift the soft descriptor limit (often 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is installed, else the stock asyncio loop (None)."""
    try:
        import uvloop
    except ImportError:
        return None
    # A loop factory rather than set_event_loop_policy(): same effect for this process,
    # without the policy API that Python 3.14 deprecates.
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if level != "DEBUG":
        for name in _NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
