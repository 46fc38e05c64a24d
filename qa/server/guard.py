"""Who and what reaches ``qa serve``'s routes: checked before a route reads anything.

The server may hold a private library and one busy model, so the gate is shut by default:
without an API key only this machine's loopback names are answered (a web page that points its
own name at 127.0.0.1, DNS rebinding, still sends that name as Host); with one, every request
but ``/health`` carries it. Bodies are capped in size, whether declared or chunked, and in
time: a client that stops halfway through its body is answered 408 and its connection closed,
so half-sent requests cannot pile up.
"""
from __future__ import annotations

import hmac
import ipaddress
import json
from pathlib import Path

from qa.errors import BadInput

BODY_TIMEOUT_S = 15.0  # for a whole request body: 1 MiB at 70 KB/s


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_local_host(header: bytes | None) -> bool:
    """Whether a Host header names this machine by a loopback name (any port). A request without
    one (HTTP/1.0) is no browser's, so it passes."""
    if header is None:
        return True
    host = header.decode("latin-1").strip()
    if host.startswith("["):
        host = host[:host.find("]") + 1]
    elif host.count(":") == 1:
        host = host.split(":")[0]
    return is_loopback(host.rstrip(".").lower())


def key_from_file(path: Path) -> str:
    """The API key on the first line of ``path`` (a file only its owner reads, unlike a command line)."""
    try:
        with path.open(encoding="utf-8") as lines:
            key = lines.readline().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"--api-key-file {path}: {getattr(e, 'strerror', None) or e}") from None
    if not key:
        raise BadInput(f"--api-key-file {path}: the first line holds no key")
    return key


class Guard:
    """ASGI middleware: the Host name (without a key), the bearer key (compared in constant
    time), the body's size and time caps. ``/health`` needs no key, so a supervisor can probe it."""

    def __init__(self, app, api_key: str | None, max_body: int, body_timeout_s: float = BODY_TIMEOUT_S) -> None:
        self.app, self.max_body, self.body_timeout_s = app, max_body, body_timeout_s
        self.expected = api_key.encode() if api_key else None

    @property
    def state(self):
        return self.app.state

    async def __call__(self, scope, receive, send) -> None:
        import anyio

        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if not self.expected and not is_local_host(headers.get(b"host")):
            host = headers[b"host"].decode("latin-1")
            return await _json(send, 403, {"error": {
                "message": f"Host {host!r} is not this machine's loopback name: without --api-key qa serve answers "
                           "only 127.0.0.1, localhost and [::1]", "type": "forbidden_host"}})
        scheme, _, token = headers.get(b"authorization", b"").strip().partition(b" ")
        if self.expected and scope["path"] != "/health" and \
                not (scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.expected)):
            return await _json(send, 401, {"error": {"message": "missing or wrong API key (Authorization: Bearer KEY)",
                                                     "type": "invalid_api_key"}})
        try:
            length = int(headers.get(b"content-length", b"0"))
        except ValueError:
            length = 0
        if length > self.max_body:
            return await _json(send, 413, {"error": {"message": f"the body is over {self.max_body} bytes",
                                                     "type": "request_too_large"}})
        body, more = [], True
        with anyio.move_on_after(self.body_timeout_s):
            while more:  # the whole body, before the app sees any of it: a chunked upload is capped too
                message = await receive()
                if message["type"] != "http.request":
                    return
                body.append(message.get("body", b""))
                more = message.get("more_body", False)
                if sum(map(len, body)) > self.max_body:
                    return await _json(send, 413, {"error": {"message": f"the body is over {self.max_body} bytes",
                                                             "type": "request_too_large"}})
        if more:
            return await _json(send, 408, {"error": {
                "message": f"the body did not arrive within {self.body_timeout_s:g} s", "type": "request_timeout"}},
                close=True)
        replay = [{"type": "http.request", "body": b"".join(body), "more_body": False}]

        async def replayed():
            return replay.pop() if replay else await receive()
        await self.app(scope, replayed, send)


async def _json(send, status: int, obj: dict, close: bool = False) -> None:
    body = json.dumps(obj).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status,
                "headers": headers + [(b"connection", b"close")] * close})
    await send({"type": "http.response.body", "body": body})
