"""The servers a library can be reached through: ``qa serve`` over HTTP (:mod:`qa.server.http`, behind
:mod:`qa.server.guard`, its one LLM shared through :mod:`qa.server.queue`, its streams in
:mod:`qa.server.events`) and ``qa mcp`` over stdio (:mod:`qa.server.mcp`); both check what a
client sends with :mod:`qa.server.requests`. Their commands are in qa/cli/serve.py."""
