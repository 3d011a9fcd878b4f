"""Server configuration: one frozen value built from command line, environment and defaults.

Precedence is command line > environment (``HOTLINE_*``) > default. Every option has an
environment variable so containers and systemd units need no command line at all.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "HOTLINE_"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class ConfigError(ValueError):
    """An option has a value that cannot be used; the message names the option."""


@dataclass(frozen=True, slots=True)
class Config:
    """Everything a Hotline process needs to know at start-up.

    Port 0 means "let the operating system pick a free port" (handy in tests).
    ``database_url`` None means: run an embedded PostgreSQL in ``data_dir / "pg"``.
    """

    sip_host: str = "0.0.0.0"
    sip_port: int = 5060
    http_host: str = "0.0.0.0"
    http_port: int = 8080
    rtp_ports: tuple[int, int] = (20000, 20999)
    data_dir: Path = Path("./var")
    database_url: str | None = None
    demo: bool = False
    log_level: str = "INFO"
    #: seconds a call rings (180) before the answer; 0 answers at once
    answer_delay: float = 0.0
    #: digest algorithms offered to phones, most preferred first (RFC 8760 §2.4)
    digest_algorithms: tuple[str, ...] = ("SHA-256", "MD5")
    #: record every call as a stereo WAV in DATA_DIR/recordings
    record: bool = False
    #: a vosk model directory for English speech (None: pocketsphinx's bundled model)
    vosk_model: Path | None = None


def parse_port(text: str) -> int:
    """A TCP/UDP port number, 0-65535."""
    port = _parse_int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be between 0 and 65535, got {text!r}")
    return port


def parse_rtp_ports(text: str) -> tuple[int, int]:
    """Parse an inclusive RTP port range written ``LOW-HIGH``, e.g. ``20000-20999``."""
    low_text, sep, high_text = text.strip().partition("-")
    try:
        if not sep:
            raise ValueError
        low, high = _parse_int(low_text), _parse_int(high_text)
    except ValueError:
        raise ValueError(f"expected LOW-HIGH such as '20000-20999', got {text!r}") from None
    if not 1 <= low <= high <= 65535:
        raise ValueError(f"need 1 <= LOW <= HIGH <= 65535, got {text!r}")
    # One call needs an even RTP port and the odd RTCP port above it.
    if high - low < 1:
        raise ValueError(f"range must hold at least two ports (RTP + RTCP), got {text!r}")
    return low, high


def parse_bool(text: str) -> bool:
    """Environment-style boolean: 1/true/yes/on or 0/false/no/off (any case)."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"expected one of 1/true/yes/on or 0/false/no/off, got {text!r}")


def parse_log_level(text: str) -> str:
    """A standard logging level name, returned upper-case."""
    level = text.strip().upper()
    if level not in _LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(_LOG_LEVELS)}, got {text!r}")
    return level


def _parse_int(text: str) -> int:
    stripped = text.strip()
    if not stripped.isdigit():
        raise ValueError(f"expected a whole number, got {text!r}")
    return int(stripped)


def parse_seconds(text: str) -> float:
    """A non-negative number of seconds, e.g. ``0``, ``1.5``."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"expected a number of seconds, got {text!r}") from None
    if not 0 <= value <= 60:
        raise ValueError(f"expected 0 to 60 seconds, got {text!r}")
    return value


_DIGEST_ALGORITHMS = ("SHA-256", "MD5", "SHA-256-sess", "MD5-sess")


def parse_digest_algorithms(text: str) -> tuple[str, ...]:
    """A comma-separated list of digest algorithms, e.g. ``SHA-256,MD5``."""
    known = {a.lower(): a for a in _DIGEST_ALGORITHMS}
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n.lower() not in known]
    if not names or unknown:
        raise ValueError(f"expected some of {', '.join(_DIGEST_ALGORITHMS)}, got {text!r}")
    return tuple(known[n.lower()] for n in names)


def _parse_str(text: str) -> str:
    return text.strip()


def _parse_url(text: str) -> str | None:
    # An empty variable (HOTLINE_DATABASE_URL=) is the natural way to ask for the default.
    return text.strip() or None


def _parse_path(text: str) -> Path | None:
    return Path(text.strip()) if text.strip() else None


# Field name -> parser of its textual form (command line and environment share these).
PARSERS: dict[str, Callable[[str], Any]] = {
    "sip_host": _parse_str,
    "sip_port": parse_port,
    "http_host": _parse_str,
    "http_port": parse_port,
    "rtp_ports": parse_rtp_ports,
    "data_dir": Path,
    "database_url": _parse_url,
    "demo": parse_bool,
    "log_level": parse_log_level,
    "answer_delay": parse_seconds,
    "digest_algorithms": parse_digest_algorithms,
    "record": parse_bool,
    "vosk_model": _parse_path,
}


def env_name(field: str) -> str:
    """The environment variable of a config field, e.g. ``HOTLINE_SIP_PORT``."""
    return ENV_PREFIX + field.upper()


def load_config(
    cli: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Build a `Config`: values in ``cli`` beat ``env`` (``HOTLINE_*``) beat the defaults.

    ``cli`` maps field names to already-typed values; a None value means "not given".
    ``env`` holds raw strings, parsed here. Raises `ConfigError` naming the bad variable.
    """
    cli = cli or {}
    env = env or {}
    values: dict[str, Any] = {}
    for field in dataclasses.fields(Config):
        name = field.name
        if cli.get(name) is not None:
            values[name] = cli[name]
        elif env_name(name) in env:
            values[name] = _from_env(name, env[env_name(name)])
    return Config(**values)


def _from_env(name: str, raw: str) -> Any:
    try:
        return PARSERS[name](raw)
    except ValueError as exc:
        raise ConfigError(f"{env_name(name)}: {exc}") from None


def log_level_number(config: Config) -> int:
    """The numeric `logging` level of ``config.log_level``."""
    return logging.getLevelNamesMapping()[config.log_level]
