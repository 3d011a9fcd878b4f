"""The start-up lines telling the operator where to point phones and browsers."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from hotline.addresses import WILDCARDS, lan_address, reachable_host, url_host
from hotline.config import Config
from hotline.store.demo import DEMO_REALM, DEMO_SIP_USERS, DEMO_WEB_USERS
from routing.demo import DEMO_AGENTS


def banner(config: Config, http_port: int, sip_running: bool) -> str:
    """The lines printed once every service is up."""
    web = f"http://{url_host(reachable_host(config.http_host))}:{http_port}/"
    if sip_running:
        sip_host = url_host(reachable_host(config.sip_host))
        sip = f"SIP sip:hotline@{sip_host}:{config.sip_port} (UDP+TCP)"
    else:
        sip = "SIP not available yet (media.sip.server is missing)"
    lines = [f"Hotline is up: {sip}, web {web}"]
    lan = lan_address() if WILDCARDS.keys() & {config.http_host, config.sip_host} else None
    if lan is not None:
        lines.append(f"  listening on all interfaces; other machines can use {lan}")
    lines.append(f"  database: {database_description(config)}")
    if config.demo:
        lines.append(f"  demo: {demo_accounts()}")
        if sip_running:
            lines.append(
                f"  demo shop hotline: call sip:shop@{sip_host}:{config.sip_port} (or 5000); "
                "sip:hotline@ repeats your keys"
            )
        agents = ", ".join(f"{user}/{password}" for user, password, *_ in DEMO_AGENTS)
        lines.append(f"  agents: {web}login ({agents})")
        lines.append(f"  supervisors: {web}supervisor/flows, {web}supervisor/wallboard")
    return "\n".join(lines)


def database_description(config: Config) -> str:
    """Where the data lives, with any password in the URL masked."""
    if config.database_url is None:
        return f"embedded PostgreSQL in {config.data_dir / 'pg'}"
    parts = urlsplit(config.database_url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return config.database_url


def demo_accounts() -> str:
    """The demo logins, for the operator trying Hotline out."""
    web = ", ".join(f"{user}/{password}" for user, password, _ in DEMO_WEB_USERS)
    sip = ", ".join(f"{user}/{password}" for user, password, _ in DEMO_SIP_USERS)
    return f"web {web}; SIP phones {sip} (realm {DEMO_REALM})"
