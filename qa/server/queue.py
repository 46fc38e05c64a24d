"""The one LLM, shared by ``qa serve``'s requests: a bounded queue of tickets, each answered in order.

One model on few cores writes one answer at a time. A request that wants the LLM is admitted
with a :class:`Ticket` (or refused at once with :class:`Busy` when ``capacity`` are already
admitted: better a 503 now than a timeout later), and its items are made on one LLM thread when
its ticket comes up. A client that goes away closes its ticket between two tokens.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

DEFAULT_QUEUE = 4  # requests that may wait for the LLM while one is answered


class Busy(Exception):
    """The LLM's queue is full: the request is answered 503 with Retry-After."""


class LLMQueue:
    """``capacity`` tickets at most are admitted (one running, the rest waiting in order); a
    later request is refused at once rather than left to time out. Every call into a ticket's
    generator runs on one thread, so closing a cancelled one is queued before the next
    ticket's first token and llama.cpp never sees two at once."""

    def __init__(self, queue: int = DEFAULT_QUEUE) -> None:
        self.capacity = queue + 1
        self.admitted = 0
        self.running = 0
        self._one_at_a_time = asyncio.Lock()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="qa-llm")

    def admit(self, make: Callable[[], Iterator[Any]]) -> Ticket:
        """A ticket for ``make()``'s generator, whose items are made on the LLM thread when the
        ticket comes up. Raises :class:`Busy` at once when the queue is full."""
        if self.admitted >= self.capacity:
            raise Busy()
        self.admitted += 1
        return Ticket(self, make)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


class Ticket:
    """One admitted request's place in the queue: iterate it for the items; ``aclose()`` (a client
    gone, or the end) closes the generator on the LLM thread, which stops llama.cpp's own token
    loop, and gives the place back, whether or not the ticket ever came up."""

    def __init__(self, queue: LLMQueue, make: Callable[[], Iterator[Any]]) -> None:
        self._queue, self._items, self._left = queue, self._wait_then_run(make), False

    def __aiter__(self) -> Ticket:
        return self

    async def __anext__(self) -> Any:
        return await self._items.__anext__()

    async def aclose(self) -> None:
        await self._items.aclose()
        self._leave()

    def _leave(self) -> None:
        if not self._left:
            self._left = True
            self._queue.admitted -= 1

    async def _wait_then_run(self, make: Callable[[], Iterator[Any]]) -> AsyncIterator[Any]:
        queue = self._queue
        try:
            async with queue._one_at_a_time:
                queue.running += 1
                items = make()
                done = object()
                try:
                    while True:
                        item = await asyncio.wrap_future(queue._thread.submit(next, items, done))
                        if item is done:
                            return
                        yield item
                finally:
                    queue.running -= 1
                    queue._thread.submit(items.close)  # after the piece in flight, before the next ticket
        finally:
            self._leave()
