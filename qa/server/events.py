"""A client that goes away, noticed while its answer is still being written: the watcher both the
plain replies and the server-sent events of ``qa serve`` run their work under, so a cancelled
answer frees the LLM between two tokens instead of running on for no one."""
from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def until_disconnect(receive: Callable[[], Awaitable[dict[str, Any]]],
                           work: Callable[[], Awaitable[T]]) -> T | None:
    """``work()``'s result, or None when the client disconnects first (``work`` is cancelled).
    ``receive`` is the request's ASGI receive, its body already read."""
    import anyio

    result = None
    async with anyio.create_task_group() as group:
        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()

        group.start_soon(watch)
        try:
            result = await work()
        finally:
            group.cancel_scope.cancel()
    return result


class EventStream:
    """A ``text/event-stream`` response that stops its events when the client disconnects (not
    only when a write fails), and always closes them, so a cancelled answer frees the LLM."""

    def __init__(self, events: AsyncIterator[str]) -> None:
        self.events = events

    async def __call__(self, scope, receive, send) -> None:
        async def write_all() -> None:
            try:
                async for data in self.events:
                    await send({"type": "http.response.body", "body": f"data: {data}\n\n".encode(),
                                "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except OSError:  # the client went away mid-write
                pass

        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream; charset=utf-8"),
                                    (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]})
            await until_disconnect(receive, write_all)
        finally:
            await self.events.aclose()
