"""What a request to ``qa serve`` or a tool call to ``qa mcp`` may carry: each field's type
and range, checked before anything runs.

A body is JSON from whoever reaches the port, so a wrong type must come back as a 400 that
names the field, not as a crash deep in a search (a number where a date belongs) nor as a
quiet misreading (``"k": true`` taken as 1). The models are strict (no bool for a number, no
number for text) and refuse fields qa does not know where qa defines the whole object; the
OpenAI chat body keeps its other fields (temperature, ...), which qa ignores. The limits are
the same for HTTP and MCP: both take their fields from :func:`k_field` and :func:`question_field`.
"""
from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from qa.library.filters import Filters, make_filters, parse_day

K_MAX = 50  # passages per request
MAX_QUESTION = 4000  # characters
MAX_MESSAGES = 200
MAX_SOURCES = 100

Model = TypeVar("Model", bound=BaseModel)


class BadRequest(ValueError):
    """A request that does not fit its model; the message names each bad field."""


def k_field(default: int | None = None) -> Any:
    """The passages a request asks for: a whole number from 1 to K_MAX (true is not 1)."""
    return Field(default, strict=True, ge=1, le=K_MAX, description=f"passages to use, 1 to {K_MAX}")


def question_field(default: Any = ..., what: str = "the question") -> Any:
    """A question or query: text with something in it, at most MAX_QUESTION characters."""
    return Field(default, strict=True, min_length=1, max_length=MAX_QUESTION, pattern=r"\S",
                 description=f"{what}, at most {MAX_QUESTION} characters")


def _shown(value: Any) -> str:
    return json.dumps(value, default=str)[:60]


def _day(end: bool):
    def parse(value: Any) -> date:
        if not isinstance(value, str):
            raise ValueError(f"must be a date as text (YYYY, YYYY-MM or YYYY-MM-DD), not {_shown(value)}")
        return parse_day(value, end)
    return BeforeValidator(parse)


def _iso_day(value: Any) -> date:
    if not isinstance(value, str):
        raise ValueError(f"must be a date as text (YYYY-MM-DD), not {_shown(value)}")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date: use YYYY-MM-DD") from None


class Options(BaseModel):
    """qa's options of a search or an answer: at the top of /v1/search and /v1/ask, under "qa"
    in a chat body. ``source`` (one outlet) and ``sources`` (a list) add up."""

    model_config = ConfigDict(extra="forbid", strict=True)

    k: int | None = k_field()
    today: Annotated[date, BeforeValidator(_iso_day)] | None = None
    since: Annotated[date, _day(end=False)] | None = None
    until: Annotated[date, _day(end=True)] | None = None
    sources: list[str] = Field(default_factory=list, max_length=MAX_SOURCES)
    source: str | None = None
    include_undated: bool = False

    @model_validator(mode="after")
    def _in_order(self) -> "Options":
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"'since' {self.since.isoformat()} is after 'until' {self.until.isoformat()}")
        return self

    def where(self) -> Filters:
        return make_filters(self.since, self.until, [*self.sources, *([self.source] if self.source else [])],
                            self.include_undated)


class SearchRequest(Options):
    """``POST /v1/search``: ``query`` (or ``question``) and the options."""

    query: str | None = question_field(None, "the query")
    question: str | None = question_field(None)

    @model_validator(mode="after")
    def _one_query(self) -> "SearchRequest":
        if (self.query is None) == (self.question is None):
            raise ValueError("'query' is missing" if self.query is None else "give 'query' or 'question', not both")
        return self

    @property
    def text(self) -> str:
        return (self.query or self.question or "").strip()


class AskRequest(Options):
    """``POST /v1/ask``: ``question`` and the options."""

    question: str = question_field()


class Message(BaseModel):
    """One chat message. Its content is text, null (an assistant's tool call) or OpenAI's list
    of parts, of which only text parts count: they are joined into one text."""

    model_config = ConfigDict(strict=True)

    role: str
    content: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _text_of(cls, content: Any) -> Any:
        if content is None or isinstance(content, str):
            return content
        if not isinstance(content, list):
            raise ValueError(f"must be text or a list of content parts, not {_shown(content)}")
        texts = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise ValueError(f"part {i} must be an object with a 'type'")
            if part["type"] == "text":
                if not isinstance(part.get("text"), str):
                    raise ValueError(f"part {i}'s 'text' must be text, not {_shown(part.get('text'))}")
                texts.append(part["text"])
        return " ".join(texts)


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``: the fields qa reads; OpenAI's others are let through."""

    model_config = ConfigDict(strict=True)

    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    model: str | None = None
    stream: bool | None = False
    qa: Options | None = None

    @property
    def options(self) -> Options:
        return self.qa or Options()

    def question(self) -> tuple[str, list[str]]:
        """The last user message (the question) and the user messages before it (the conversation)."""
        users = [(m.content or "").strip() for m in self.messages if m.role == "user"]
        if not users or not users[-1]:
            raise BadRequest("'messages' holds no user message to answer")
        if len(users[-1]) > MAX_QUESTION:
            raise BadRequest(f"the last user message is longer than {MAX_QUESTION} characters")
        return users[-1], users[:-1]


def parse(model: type[Model], body: Any) -> Model:
    """``body`` as ``model``, or :class:`BadRequest` naming every field that is wrong."""
    try:
        return model.model_validate(body)
    except ValidationError as e:
        raise BadRequest("; ".join(_say(error) for error in e.errors())) from None


def _say(error: dict) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    plain = {"int_type": "must be a whole number", "bool_type": "must be true or false", "string_type": "must be text",
             "list_type": "must be a list", "model_type": "must be an object", "dict_type": "must be an object"}
    if kind in plain:
        text = f"{plain[kind]}, not {_shown(value)}"
    elif kind == "value_error":
        text = str(ctx["error"])
    else:
        text = {"missing": "is missing", "extra_forbidden": "is not a field qa reads",
                "greater_than_equal": f"must be at least {ctx.get('ge')}",
                "less_than_equal": f"must be at most {ctx.get('le')}",
                "string_too_long": f"is longer than {ctx.get('max_length')} characters",
                "string_too_short": "must be non-empty text", "string_pattern_mismatch": "must be non-empty text",
                "too_short": f"must hold at least {ctx.get('min_length')} item(s)",
                "too_long": f"must hold at most {ctx.get('max_length')} items"}.get(kind, error["msg"])
    where = ""
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
    return f"'{where}' {text}" if where else text
