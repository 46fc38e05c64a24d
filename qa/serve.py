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
request size cap, and nothing over HTTP writes to the library.
"""
from __future__ import annotations

import asyncio
import hmac
import ipaddress
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

from qa.cli_common import library_option
from qa.errors import BadInput

if TYPE_CHECKING:
    from qa.api import Assistant

MAX_BODY = 1 << 20  # bytes of one request body; a question with its whole chat fits many times over
MAX_QUESTION = 4000  # characters
MAX_MESSAGES = 200
DEFAULT_QUEUE = 4  # generations that may wait for the LLM while one runs
RETRY_AFTER_S = 10


def load_starlette():
    """Import the server's libraries, or say which extra installs them."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise click.ClickException(
            f"qa serve needs Starlette and uvicorn ({e.name} is missing): pip install 'qa-news[serve]'") from None


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


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def question_of(messages: Any) -> tuple[str, list[str]]:
    """The last user message (the question) and the user messages before it (the conversation).
    Content may be a string or OpenAI's list of parts; only text parts count."""
    if not isinstance(messages, list) or not messages or len(messages) > MAX_MESSAGES:
        raise ValueError(f"'messages' must be a list of 1 to {MAX_MESSAGES} messages")
    users = []
    for m in messages:
        if not isinstance(m, dict):
            raise ValueError("each message must be an object with 'role' and 'content'")
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
            if not isinstance(content, str):
                raise ValueError("a user message's 'content' must be text")
            users.append(content.strip())
    if not users or not users[-1]:
        raise ValueError("no user message to answer")
    return users[-1], users[:-1]


def _options(body: dict) -> dict:
    """The qa options a request may carry (top level for /v1/search and /v1/ask, under "qa" for
    chat): k, today, since, until, sources (a list, or "source": one), include_undated."""
    from qa.library.filters import make_filters

    k = body.get("k", None)
    if k is not None and (not isinstance(k, int) or not 1 <= k <= 50):
        raise ValueError("'k' must be a whole number from 1 to 50")
    sources = body.get("sources") or ([body["source"]] if body.get("source") else [])
    if isinstance(sources, str) or not all(isinstance(s, str) for s in sources):
        raise ValueError("'sources' must be a list of outlet names or domains")
    today = body.get("today")
    return {"k": k, "today": date.fromisoformat(today) if today else None,
            "where": make_filters(body.get("since"), body.get("until"), tuple(sources),
                                  bool(body.get("include_undated")))}


def _text(body: dict, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{key}' must be non-empty text")
    if len(value) > MAX_QUESTION:
        raise ValueError(f"'{key}' is longer than {MAX_QUESTION} characters")
    return value.strip()


def search_object(assistant: "Assistant", question: str, k: int | None, today: date | None, where) -> dict:
    """The ``qa ask --no-llm --json`` object: the passages, and whether they come close enough
    to the question to answer it."""
    from qa.answering import ABSTAIN_TEXT, Answer

    start = time.perf_counter()
    passages = assistant.search(question, k, today=today, where=where)
    found = assistant.in_library(passages)
    elapsed = time.perf_counter() - start
    text = "" if found else ABSTAIN_TEXT
    if not passages and where:
        text = where.nothing_matches()
    return Answer(question, text, not found, [], passages, "", {"retrieve_s": elapsed, "total_s": elapsed},
                  filters=where or None).to_dict()


def sources_footer(answer) -> str:
    """The citations as text under the answer, for clients that show only ``content``."""
    lines = []
    for c in answer.citations:
        meta = ", ".join(x for x in (c.source, c.date) if x)
        lines.append(f"[{c.n}] {c.title}" + (f" ({meta})" if meta else "") + (f" {c.url}" if c.url else ""))
    return "\n\nSources:\n" + "\n".join(lines) if lines else ""


def build_app(assistant: "Assistant", *, api_key: str | None = None, queue: int = DEFAULT_QUEUE,
              max_body: int = MAX_BODY):
    """The ASGI application over ``assistant`` (its reads are put under one lock).
    ``api_key``: every request but ``/health`` must carry ``Authorization: Bearer KEY``."""
    load_starlette()
    import anyio
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from qa.answering import Answer

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
            body = await read_json(request)
            question = _text(body, "question" if "question" in body else "query")
            options = _options(body)
        except ValueError as e:
            return error(400, str(e))
        return JSONResponse(await anyio.to_thread.run_sync(
            lambda: search_object(assistant, question, options["k"], options["today"], options["where"])))

    async def article(request: Request) -> Response:
        article_id = request.path_params["article_id"]

        def read() -> dict | None:
            with assistant.reads:
                a = assistant.library.article(article_id)
                return None if a is None else {
                    "id": a.id, "title": a.title, "date": a.date, "date_source": a.date_source,
                    "source": a.source, "url": a.url, "text": a.text, "files": assistant.library.sources(a.id)}
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
            body = await read_json(request)
            question = _text(body, "question")
            options = _options(body)
        except ValueError as e:
            return error(400, str(e))
        try:
            items = generations.run(lambda: assistant.stream(question, options["k"], options["today"],
                                                             where=options["where"]))
        except Busy:
            return busy()
        answer = await watching(request, lambda: collect(items))
        return JSONResponse(answer.to_dict()) if answer else Response(status_code=499)

    async def chat_completions(request: Request) -> Response:
        try:
            body = await read_json(request)
            question, earlier = question_of(body.get("messages"))
            if len(question) > MAX_QUESTION:
                raise ValueError(f"the question is longer than {MAX_QUESTION} characters")
            options = _options(body.get("qa") or {})
        except ValueError as e:
            return error(400, str(e))
        conversation = assistant.chat()
        conversation.turns = [(q, None) for q in earlier if q]  # context_for reads only the questions
        context = conversation.context_for(question)
        try:
            items = generations.run(lambda: assistant.stream(question, options["k"], options["today"], context,
                                                             where=options["where"]))
        except Busy:
            return busy()
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if body.get("stream"):
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
    return Guard(app, api_key, max_body)


class Guard:
    """ASGI middleware: the bearer key (compared in constant time) and the body size cap, checked
    before a route reads anything. ``/health`` needs no key, so a supervisor can probe it."""

    def __init__(self, app, api_key: str | None, max_body: int) -> None:
        self.app, self.max_body = app, max_body
        self.expected = f"Bearer {api_key}".encode() if api_key else None

    @property
    def state(self):
        return self.app.state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if self.expected and scope["path"] != "/health" and \
                not hmac.compare_digest(headers.get(b"authorization", b""), self.expected):
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
        while more:  # the whole body, before the app sees any of it: a chunked upload is capped too
            message = await receive()
            if message["type"] != "http.request":
                return
            body.append(message.get("body", b""))
            more = message.get("more_body", False)
            if sum(map(len, body)) > self.max_body:
                return await _json(send, 413, {"error": {"message": f"the body is over {self.max_body} bytes",
                                                         "type": "request_too_large"}})
        replay = [{"type": "http.request", "body": b"".join(body), "more_body": False}]

        async def replayed():
            return replay.pop() if replay else await receive()
        await self.app(scope, replayed, send)


async def _json(send, status: int, obj: dict) -> None:
    body = json.dumps(obj).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


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
              help="Require 'Authorization: Bearer KEY' on every request but /health (env QA_API_KEY).")
@click.option("--model", "-m", help="A model name from models.txt or a path to a .gguf file (QA_MODEL sets a default).")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 50), help="Passages per answer.")
@click.option("--queue", default=DEFAULT_QUEUE, show_default=True, type=click.IntRange(0, 1000),
              help="Answers that may wait for the LLM while one is written; more get 503 with Retry-After.")
def serve(library: Path | str | None, host: str, port: int, api_key: str | None, model: str | None, k: int,
          queue: int) -> None:
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
    from qa.cli import _open_assistant

    load_starlette()
    import uvicorn

    if not is_loopback(host) and not api_key:
        raise BadInput(f"--host {host} would let other machines in: set --api-key KEY (or QA_API_KEY), "
                       f"or keep the default 127.0.0.1")
    assistant = _open_assistant(library, model, k)
    from qa.models import ModelError

    try:
        click.echo(f"loading {assistant.llm.name} …", err=True)
    except ModelError as e:
        raise click.ClickException(str(e)) from None
    app = build_app(assistant, api_key=api_key, queue=queue)
    click.echo(f"qa serve: {assistant.library.name} ({assistant.library.counts['articles']} articles) on "
               f"http://{host}:{port}/v1  (Ctrl+C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
