"""`HOST:PORT` addresses to serve on (`[metrics] listen`, `--metrics-listen`)."""

from __future__ import annotations

from typing import Any

from obtui.config.checks import Invalid, describe, shown


def parse_listen(text: str) -> tuple[str, int]:
    """`"127.0.0.1:9464"` -> ("127.0.0.1", 9464); `"[::1]:9464"` -> ("::1", 9464); `":9464"` ->
    ("0.0.0.0", 9464), every interface. Raises ValueError saying what is wrong."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port:
        raise ValueError(f'expected HOST:PORT, such as "127.0.0.1:9464", got {text!r}')
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f'an IPv6 address needs brackets, as in "[::1]:9464", got {text!r}')
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected a port from 1 to 65535 after the colon, got {port!r}")
    return host or "0.0.0.0", int(port)


def listen_address(v: Any) -> str | None:
    """Config converter: a valid `HOST:PORT` string, or None for "" (off)."""
    if not isinstance(v, str):
        raise Invalid(f'expected an address such as "127.0.0.1:9464", got {describe(v)}')
    if not v.strip():
        return None
    try:
        parse_listen(v)
    except ValueError as exc:
        raise Invalid(f"{exc} (from {shown(v)})") from None
    return v.strip()
