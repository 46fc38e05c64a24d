"""``qa serve``: one library over HTTP, in the shape of OpenAI's chat API.

Chat front ends and editors already speak ``POST /v1/chat/completions``; answering it
(plainly and as server-sent events) lets them use a library without knowing qa. The
cited answer is the reply; a ``"qa"`` field beside ``choices`` carries the ``qa ask
--json`` object (citations, passages, abstained, timeline), which OpenAI clients
ignore and qa-aware clients read. ``/v1/search``, ``/v1/ask`` and
``/v1/articles/{id}`` give the same objects as the command line.

One model on few cores: answers are written one at a time on one LLM thread, behind a
bounded queue (qa/server/queue.py; past it: 503 with ``Retry-After``), and a client that
goes away cancels its answer between two tokens (qa/server/events.py). Retrieval runs on
other threads, so a search never waits behind an answer. Safe by default: loopback only
unless an API key is set, a request size and time cap (qa/server/guard.py), every body
field checked (qa/server/requests.py), and nothing over HTTP writes to the library.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from qa.server.events import EventStream, until_disconnect
from qa.server.guard import BODY_TIMEOUT_S, Guard
from qa.server.queue import DEFAULT_QUEUE, Busy, LLMQueue

if TYPE_CHECKING:
    from qa.api import Assistant

MAX_BODY = 1 << 20  # bytes of one request body; a question with its whole chat fits many times over
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


def sources_footer(answer) -> str:
    """The citations as text under the answer, for clients that show only ``content``."""
    lines = []
    for c in answer.citations:
        meta = ", ".join(x for x in (c.source, c.date) if x)
        lines.append(f"[{c.n}] {c.title}" + (f" ({meta})" if meta else "") + (f" {c.url}" if c.url else ""))
    return "\n\nSources:\n" + "\n".join(lines) if lines else ""


def build_app(assistant: "Assistant", *, api_key: str | None = None, queue: int = DEFAULT_QUEUE,
              max_body: int = MAX_BODY, body_timeout_s: float = BODY_TIMEOUT_S):
    """The ASGI application over ``assistant``; its routes run on threads, searches beside an
    answer being written (``Assistant.reads`` keeps them apart from a refresh). ``api_key``: every request but ``/health`` must carry ``Authorization: Bearer KEY``."""
    load_starlette()
    import anyio
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from qa.answering import Answer
    from qa.server.requests import AskRequest, ChatRequest, SearchRequest, parse

    llm_queue = LLMQueue(queue)
    model_id = f"qa/{assistant.library.name}"

    def error(status: int, message: str, kind: str = "invalid_request_error", **headers) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind}}, status, headers=headers or None)

    def busy() -> JSONResponse:
        return error(503, f"the model is busy: {llm_queue.capacity} answers are running or waiting; retry later",
                     "server_busy", **{"Retry-After": str(RETRY_AFTER_S)})

    async def read_json(request: Request) -> dict:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise ValueError("the body is not JSON") from None
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        return body

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
                             "chunks": counts.get("chunks", 0), "generating": llm_queue.running,
                             "waiting": llm_queue.admitted - llm_queue.running})

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": model_id, "object": "model", "created": 0, "owned_by": "qa", "llm": assistant.llm_name}]})

    async def search(request: Request) -> Response:
        try:
            asked = parse(SearchRequest, await read_json(request))
        except ValueError as e:
            return error(400, str(e))
        return JSONResponse(await anyio.to_thread.run_sync(
            lambda: assistant.retrieve_only(asked.text, asked.k, asked.today, asked.where()).to_dict()))

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
            ticket = llm_queue.admit(lambda: assistant.stream(asked.question.strip(), asked.k, asked.today,
                                                              where=asked.where()))
        except Busy:
            return busy()
        answer = await until_disconnect(request.receive, lambda: collect(ticket))
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
            ticket = llm_queue.admit(lambda: assistant.stream(question, options.k, options.today, context,
                                                              where=options.where()))
        except Busy:
            return busy()
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if body.stream:
            return EventStream(chat_events(ticket, reply_id, created))
        answer = await until_disconnect(request.receive, lambda: collect(ticket))
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
    app.state.llm_queue = llm_queue
    return Guard(app, api_key, max_body, body_timeout_s)


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
        app.state.llm_queue.close()
