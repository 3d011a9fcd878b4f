"""Configuration: command line > environment > default, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.cli import parse_config
from hotline.config import Config, ConfigError, load_config, parse_bool, parse_rtp_ports


def test_defaults() -> None:
    config = parse_config(["serve"], {})
    assert config == Config()
    assert config.sip_host == "0.0.0.0"
    assert (config.sip_port, config.http_port) == (5060, 8080)
    assert config.rtp_ports == (20000, 20999)
    assert config.data_dir == Path("./var")
    assert config.database_url is None
    assert config.demo is False
    assert config.log_level == "INFO"


def test_environment_overrides_defaults() -> None:
    env = {
        "HOTLINE_SIP_HOST": "127.0.0.1",
        "HOTLINE_SIP_PORT": "5070",
        "HOTLINE_HTTP_HOST": "127.0.0.2",
        "HOTLINE_HTTP_PORT": "9090",
        "HOTLINE_RTP_PORTS": "30000-30099",
        "HOTLINE_DATA_DIR": "/srv/hotline",
        "HOTLINE_DATABASE_URL": "postgresql://db/hotline",
        "HOTLINE_DEMO": "yes",
        "HOTLINE_LOG_LEVEL": "debug",
    }
    assert parse_config(["serve"], env) == Config(
        sip_host="127.0.0.1",
        sip_port=5070,
        http_host="127.0.0.2",
        http_port=9090,
        rtp_ports=(30000, 30099),
        data_dir=Path("/srv/hotline"),
        database_url="postgresql://db/hotline",
        demo=True,
        log_level="DEBUG",
    )


def test_command_line_overrides_environment() -> None:
    env = {"HOTLINE_SIP_PORT": "5070", "HOTLINE_RTP_PORTS": "30000-30099", "HOTLINE_DEMO": "0"}
    argv = ["serve", "--sip-port", "5080", "--rtp-ports", "40000-40009", "--demo"]
    config = parse_config(argv, env)
    assert (config.sip_port, config.rtp_ports, config.demo) == (5080, (40000, 40009), True)


def test_every_option_on_the_command_line() -> None:
    argv = [
        "serve", "--sip-host", "10.0.0.1", "--sip-port", "5061", "--http-host", "10.0.0.2",
        "--http-port", "8081", "--rtp-ports", "10000-10999", "--data-dir", "data",
        "--database-url", "postgresql://x/y", "--log-level", "warning",
    ]  # fmt: skip
    assert parse_config(argv, {}) == Config(
        sip_host="10.0.0.1",
        sip_port=5061,
        http_host="10.0.0.2",
        http_port=8081,
        rtp_ports=(10000, 10999),
        data_dir=Path("data"),
        database_url="postgresql://x/y",
        log_level="WARNING",
    )


def test_empty_database_url_means_embedded() -> None:
    assert load_config({}, {"HOTLINE_DATABASE_URL": ""}).database_url is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("20000-20999", (20000, 20999)), (" 1024 - 1025 ", (1024, 1025)), ("2-65535", (2, 65535))],
)
def test_rtp_range(text: str, expected: tuple[int, int]) -> None:
    assert parse_rtp_ports(text) == expected


@pytest.mark.parametrize(
    "text", ["", "20000", "20000-", "-20999", "a-b", "20999-20000", "0-100", "1-70000", "7-7",
             "20000:20999", "+1-5", "1-2-3"],
)  # fmt: skip
def test_bad_rtp_range(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rtp_ports(text)


def test_bad_rtp_range_in_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"HOTLINE_RTP_PORTS: expected LOW-HIGH .*'20000'"):
        load_config({}, {"HOTLINE_RTP_PORTS": "20000"})


def test_bad_rtp_range_on_command_line_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_config(["serve", "--rtp-ports", "20999-20000"], {})
    assert exit_info.value.code == 2
    assert "argument --rtp-ports: need 1 <= LOW <= HIGH" in capsys.readouterr().err


def test_bad_environment_value_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_config(["serve"], {"HOTLINE_HTTP_PORT": "eighty"})
    assert exit_info.value.code == 2
    assert "HOTLINE_HTTP_PORT: expected a whole number, got 'eighty'" in capsys.readouterr().err


@pytest.mark.parametrize(("var", "value"), [
    ("HOTLINE_SIP_PORT", "70000"), ("HOTLINE_DEMO", "maybe"), ("HOTLINE_LOG_LEVEL", "loud"),
])  # fmt: skip
def test_other_bad_values(var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=var):
        load_config({}, {var: value})


def test_parse_bool() -> None:
    assert [parse_bool(t) for t in ("1", "TRUE", "yes", "On")] == [True] * 4
    assert [parse_bool(t) for t in ("0", "false", "NO", "off", "")] == [False] * 5


def test_config_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Config().sip_port = 1  # type: ignore[misc]
