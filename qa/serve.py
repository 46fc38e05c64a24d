"""``qa serve``: one library over HTTP, in the shape of OpenAI's chat API.

Chat front ends and editors already speak ``POST /v1/chat/completions``; answering it
(plainly and as server-sent events) lets them use a library without knowing qa. The
cited answer is the reply; a ``"qa"`` field beside ``choices`` carries the ``qa ask
--json`` object (citations, passages, abstained, timeline), which OpenAI clients
ignore and qa-aware clients read. ``/v1/search``, ``/v1/ask`` and
``/v1/articles/{id}`` give the same objects as the command line.

One model on few cores: generations take turns on one LLM thread, behind a bounded
queue (past it: 503 with ``Retry-After``), and a client that goes away cancels its
generation between two tokens. Retrieval runs on other threads, so a search never
waits behind an answer. Safe by default: loopback only unless an API key is set, a
request size and time cap (qa/serve_guard.py), every body field checked
(qa/serve_requests.py), and nothing over HTTP writes to the library.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from qa.cli_common import library_option, model_option
from qa.errors import BadInput
from qa.serve_guard import BODY_TIMEOUT_S, Guard, is_loopback, key_from_file

if TYPE_CHECKING:
    from qa.api import Assistant

MAX_BODY = 1 << 20  # bytes of one request body; a question with its whole chat fits many times over
DEFAULT_QUEUE = 4  # generations that may wait for the LLM while one runs
RETRY_AFTER_S = 10


def load_starlette():
    """Import the server's libraries, or say which extra installs them."""
    try:
        import pydantic  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise click.ClickException(f"qa serve needs Starlette, uvicorn and pydantic ({e.name} is missing): "
                                   "pip install 'qa-news[serve]'") from None


def share_between_threads(assistant: "Assistant") -> "Assistant":
    """Make ``assistant``'s reads take one lock (``assistant.reads``), so that the server's
    threads never search a library while another thread refreshes it. The LLM is not under
    it: a search waits for another search at most, never for an answer being written."""
    if getattr(assistant, "reads", None) is None:
        assistant.reads = lock = threading.Lock()
        for name in ("search", "periods"):
            method = getattr(assistant, name)

            def locked(*args, _method=method, **kwargs):
                with lock:
                    return _method(*args, **kwargs)
            setattr(assistant, name, locked)
    return assistant


class Busy(Exception):
    """The LLM's queue is full: the request is answered 503 with Retry-After."""


class Generations:
    """Turns on the one LLM. ``capacity`` generations at most are admitted (one running, the
    rest waiting in order); a later one is refused at once rather than left to time out.
    Every call into a generator runs on one thread, so closing a cancelled generation is
    queued before the next generation's first token and llama.cpp never sees two at once."""

    def __init__(self, queue: int = DEFAULT_QUEUE) -> None:
        self.capacity = queue + 1
        self.admitted = 0
        self.running = 0
        self._turn = asyncio.Lock()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="qa-llm")

    def run(self, make: Callable[[], Iterator[Any]]) -> "Turn":
        """A place in the queue for ``make()``'s generator, whose items are made on the LLM thread
        when this request's turn comes. Raises :class:`Busy` at once when the queue is full."""
        if self.admitted >= self.capacity:
            raise Busy()
        self.admitted += 1
        return Turn(self, make)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


class Turn:
    """One admitted generation: iterate it for the items; ``aclose()`` (a client gone, or the
    end) closes the generator on the LLM thread, which stops llama.cpp's own token loop, and
    gives the place in the queue back, whether or not the turn ever came."""

    def __init__(self, queue: Generations, make: Callable[[], Iterator[Any]]) -> None:
        self._queue, self._items, self._left = queue, self._turn(make), False

    def __aiter__(self) -> "Turn":
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

    async def _turn(self, make: Callable[[], Iterator[Any]]) -> AsyncIterator[Any]:
        queue = self._queue
        try:
            async with queue._turn:
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
                    queue._thread.submit(items.close)  # after the piece in flight, before the next turn
        finally:
            self._leave()


def search_object(assistant: "Assistant", question: str, k: int | None, today: date | None, where) -> dict:
    """The ``qa ask --no-llm --json`` object: the passages, and whether they come close enough
    to the question to answer it."""
    return assistant.retrieve_only(question, k, today, where).to_dict()


def sources_footer(answer) -> str:
    """The citations as text under the answer, for clients that show only ``content``."""
    lines = []
    for c in answer.citations:
        meta = ", ".join(x for x in (c.source, c.date) if x)
        lines.append(f"[{c.n}] {c.title}" + (f" ({meta})" if meta else "") + (f" {c.url}" if c.url else ""))
    return "\n\nSources:\n" + "\n".join(lines) if lines else ""


def build_app(assistant: "Assistant", *, api_key: str | None = None, queue: int = DEFAULT_QUEUE,
              max_body: int = MAX_BODY, body_timeout_s: float = BODY_TIMEOUT_S):
    """The ASGI application over ``assistant`` (its reads are put under one lock).
    ``api_key``: every request but ``/health`` must carry ``Authorization: Bearer KEY``."""
    load_starlette()
    import anyio
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from qa.answering import Answer
    from qa.serve_requests import AskRequest, ChatRequest, SearchRequest, parse

    share_between_threads(assistant)
    generations = Generations(queue)
    model_id = f"qa/{assistant.library.name}"

    def error(status: int, message: str, kind: str = "invalid_request_error", **headers) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind}}, status, headers=headers or None)

    def busy() -> JSONResponse:
        return error(503, f"the model is busy: {generations.capacity} answers are running or waiting; retry later",
                     "server_busy", **{"Retry-After": str(RETRY_AFTER_S)})

    async def read_json(request: Request) -> dict:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise ValueError("the body is not JSON") from None
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        return body

    async def watching(request: Request, work: Callable[[], Awaitable[Any]]) -> Any:
        """``work()``'s result, or None when the client disconnects first (``work`` is cancelled)."""
        result = None

        async with anyio.create_task_group() as group:
            async def watch() -> None:
                while (await request.receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(watch)
            try:
                result = await work()
            finally:
                group.cancel_scope.cancel()
        return result

    async def collect(items: AsyncIterator[Any]) -> Answer | None:
        try:
            async for item in items:
                if isinstance(item, Answer):
                    return item
        finally:
            await items.aclose()
        return None

    async def health(request: Request) -> Response:
        counts = assistant.library.counts
        return JSONResponse({"status": "ok", "model": model_id, "articles": counts.get("articles", 0),
                             "chunks": counts.get("chunks", 0), "generating": generations.running,
                             "waiting": generations.admitted - generations.running})

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": model_id, "object": "model", "created": 0, "owned_by": "qa", "llm": assistant.llm_name}]})

    async def search(request: Request) -> Response:
        try:
            asked = parse(SearchRequest, await read_json(request))
        except ValueError as e:
            return error(400, str(e))
        return JSONResponse(await anyio.to_thread.run_sync(
            lambda: search_object(assistant, asked.text, asked.k, asked.today, asked.where())))

    async def article(request: Request) -> Response:
        article_id = request.path_params["article_id"]

        def read() -> dict | None:
            with assistant.reads:
                a = assistant.library.article(article_id)
                return None if a is None else {**a.to_dict(), "files": assistant.library.sources(a.id)}
        found = await anyio.to_thread.run_sync(read)
        return JSONResponse(found) if found else error(404, f"no article {article_id!r} in {model_id}", "not_found")

    async def stories(request: Request) -> Response:
        """``qa stories --json --no-llm``: ?since=7d|YYYY[-MM[-DD]]&until=…&source=NAME (repeatable)&limit=N."""
        q = request.query_params
        try:
            limit = int(q.get("limit", "10"))
            if not 1 <= limit <= 100:
                raise ValueError("limit must be 1 to 100")

            def group() -> dict:
                with assistant.reads:
                    return assistant.stories(q.get("since", "7d"), q.get("until"), q.getlist("source"), limit=limit,
                                             write=False, mark_seen=False).to_dict()
            return JSONResponse(await anyio.to_thread.run_sync(group))
        except ValueError as e:
            return error(400, str(e))

    async def ask(request: Request) -> Response:
        try:
            asked = parse(AskRequest, await read_json(request))
        except ValueError as e:
            return error(400, str(e))
        try:
            items = generations.run(lambda: assistant.stream(asked.question.strip(), asked.k, asked.today,
                                                             where=asked.where()))
        except Busy:
            return busy()
        answer = await watching(request, lambda: collect(items))
        return JSONResponse(answer.to_dict()) if answer else Response(status_code=499)

    async def chat_completions(request: Request) -> Response:
        try:
            body = parse(ChatRequest, await read_json(request))
            question, earlier = body.question()
        except ValueError as e:
            return error(400, str(e))
        if body.model is not None and body.model != model_id:
            return error(404, f"no model {body.model!r} here: this server answers as {model_id!r} (GET /v1/models)",
                         "model_not_found")
        options = body.options
        context = assistant.chat(earlier).context_for(question)
        try:
            items = generations.run(lambda: assistant.stream(question, options.k, options.today, context,
                                                             where=options.where()))
        except Busy:
            return busy()
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if body.stream:
            return EventStream(chat_events(items, reply_id, created))
        answer = await watching(request, lambda: collect(items))
        if answer is None:
            return Response(status_code=499)
        return JSONResponse({
            "id": reply_id, "object": "chat.completion", "created": created, "model": model_id,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer.text + sources_footer(answer)}}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "qa": answer.to_dict()})

    async def chat_events(items: AsyncIterator[Any], reply_id: str, created: int) -> AsyncIterator[str]:
        """OpenAI's chunks: the model's text as it is written; then, if checking the reply against
        the passages changed it, the checked answer; the sources; and a last chunk with ``"qa"``."""
        def chunk(delta: dict, finish: str | None = None, **extra) -> str:
            return json.dumps({"id": reply_id, "object": "chat.completion.chunk", "created": created,
                               "model": model_id, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                               **extra}, ensure_ascii=False)

        yield chunk({"role": "assistant", "content": ""})
        streamed = []
        try:
            async for item in items:
                if isinstance(item, Answer):
                    tail = ""
                    if " ".join("".join(streamed).split()) != " ".join(item.text.split()):
                        tail = "\n\nChecked against the articles: " + item.text
                    tail += sources_footer(item)
                    if tail:
                        yield chunk({"content": tail})
                    yield chunk({}, "stop", qa=item.to_dict())
                    break
                if not isinstance(item, str):  # the passages found (Sources): they come with the answer
                    continue
                streamed.append(item)
                yield chunk({"content": item})
        finally:
            await items.aclose()
        yield "[DONE]"

    routes = [Route("/health", health), Route("/v1/models", models),
              Route("/v1/chat/completions", chat_completions, methods=["POST"]),
              Route("/v1/search", search, methods=["POST"]), Route("/v1/ask", ask, methods=["POST"]),
              Route("/v1/articles/{article_id:path}", article), Route("/v1/stories", stories)]
    app = Starlette(routes=routes)
    app.state.generations = generations
    return Guard(app, api_key, max_body, body_timeout_s)


class EventStream:
    """A ``text/event-stream`` response that stops its events when the client disconnects (not
    only when a write fails), and always closes them, so a cancelled answer frees the LLM."""

    def __init__(self, events: AsyncIterator[str]) -> None:
        self.events = events

    async def __call__(self, scope, receive, send) -> None:
        import anyio

        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream; charset=utf-8"),
                                    (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]})
            async with anyio.create_task_group() as group:
                async def watch() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                try:
                    async for data in self.events:
                        await send({"type": "http.response.body", "body": f"data: {data}\n\n".encode(),
                                    "more_body": True})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                except OSError:  # the client went away mid-write
                    pass
                group.cancel_scope.cancel()
        finally:
            await self.events.aclose()


@contextmanager
def running(app, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` on a background thread for the ``with`` block; yields its base URL. Port 0
    takes a free one (tests and benchmarks)."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        app.state.generations.close()


@click.command()
@library_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --api-key.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--api-key", envvar="QA_API_KEY", metavar="KEY",
              help="Require 'Authorization: Bearer KEY' on every request but /health. Others on this machine "
                   "see a command line (ps): prefer QA_API_KEY=KEY or --api-key-file.")
@click.option("--api-key-file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Read the API key from the first line of FILE.")
@model_option
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 50), help="Passages per answer.")
@click.option("--queue", default=DEFAULT_QUEUE, show_default=True, type=click.IntRange(0, 1000),
              help="Answers that may wait for the LLM while one is written; more get 503 with Retry-After.")
def serve(library: Path | str | None, host: str, port: int, api_key: str | None, api_key_file: Path | None,
          model: str | None, k: int, queue: int) -> None:
    """Serve a library over HTTP: an OpenAI-compatible chat API, search, answers, articles.

    \b
    Endpoints:
        POST /v1/chat/completions  OpenAI chat (\"stream\": true for server-sent events);
                                   the reply cites [n]; "qa" carries citations and passages
        GET  /v1/models            the library as a model: qa/<library>
        POST /v1/search            {"query": ...}: passages only (qa ask --no-llm --json)
        POST /v1/ask               {"question": ...}: the qa ask --json object
        GET  /v1/articles/ID       one article's text and metadata
        GET  /health
    Search and ask take "k", "since", "until", "sources", "include_undated", "today";
    chat takes them under "qa". Nothing over HTTP changes the library.

    \b
    Use it from the OpenAI client:
        qa serve --library ~/news-lib
        OpenAI(base_url="http://127.0.0.1:8080/v1", api_key="-")
    """
    from qa.cli_assistant import open_assistant

    load_starlette()
    import uvicorn

    if api_key_file:
        if api_key:
            raise BadInput("give the API key one way: --api-key-file, or --api-key / QA_API_KEY, not both")
        api_key = key_from_file(api_key_file)
    if not is_loopback(host) and not api_key:
        raise BadInput(f"--host {host} would let other machines in: set --api-key KEY (or QA_API_KEY), "
                       f"or keep the default 127.0.0.1")
    assistant = open_assistant(library, model, k)
    from qa.models import ModelError

    try:
        click.echo(f"loading {assistant.llm.name} …", err=True)
    except ModelError as e:
        raise click.ClickException(str(e)) from None
    app = build_app(assistant, api_key=api_key, queue=queue)
    click.echo(f"qa serve: {assistant.library.name} ({assistant.library.counts['articles']} articles) on "
               f"http://{host}:{port}/v1  (Ctrl+C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
