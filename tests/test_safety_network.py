"""No network: ingest, ask and token counting work with every socket refused, and loading
the real encoder does not phone home (no Hugging Face hub)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from qa import cli

from conftest import REPO, SEEDS
from fakes import FakeEncoder, FakeLLM

BLOCK = textwrap.dedent("""
    import socket, sys

    ATTEMPTS = []  # kept even if a library catches the error and carries on

    class NetworkUsed(OSError):
        pass

    def refuse(*args, **kwargs):
        ATTEMPTS.append(repr(args[:2]))
        raise NetworkUsed("network access attempted: " + repr(args[:2]))

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            refuse(*args)

    socket.socket = NoSocket
    for name in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex", "socketpair"):
        setattr(socket, name, refuse)

    def audit(event, args):
        if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto",
                     "urllib.Request", "http.client.connect"):
            ATTEMPTS.append(event)
            raise NetworkUsed("network access attempted: " + event)

    sys.addaudithook(audit)
""")


class NetworkUsed(OSError):
    pass


_attempts: list[str] = []
_armed = False


def _audit(event: str, args) -> None:
    if _armed and event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto",
                            "urllib.Request", "http.client.connect"):
        _attempts.append(event)


sys.addaudithook(_audit)  # audit hooks cannot be removed: it records only while a test is armed


@pytest.fixture
def no_network(monkeypatch):
    global _armed

    def refuse(*args, **kwargs):
        _attempts.append(f"call{args[:2]!r}")
        raise NetworkUsed("network access attempted")

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            refuse(*args)

    monkeypatch.setattr(socket, "socket", NoSocket)
    for name in ("create_connection", "getaddrinfo", "gethostbyname", "socketpair"):
        monkeypatch.setattr(socket, name, refuse)
    _attempts.clear()
    _armed = True
    yield _attempts
    _armed = False


def test_the_block_works(no_network):
    with pytest.raises(NetworkUsed):
        socket.create_connection(("example.com", 80))
    with pytest.raises(NetworkUsed):
        socket.socket()
    assert len(no_network) == 2
    no_network.clear()


def test_ingest_ask_and_token_counting_without_network(no_network, monkeypatch, tmp_path):
    from embeddings.encoder import TokenCounter
    from qa.models import embedder_spec, model_path

    llm = FakeLLM("Russia proposed six-sided discussions [1].")
    monkeypatch.setattr("qa.embedder.load_encoder", FakeEncoder)
    monkeypatch.setattr("qa.api.load_encoder", FakeEncoder)
    monkeypatch.setattr("qa.api.load_llm", lambda model=None, progress=None: llm)
    counter = TokenCounter(model_path(embedder_spec()).parent)  # the real tokenizer, from its package
    assert counter.count(["Six-sided discussions on North Korea"])[0] > 4
    lib = tmp_path / "lib"
    runner = CliRunner()
    result = runner.invoke(cli.main, ["ingest", str(SEEDS), "--library", str(lib)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli.main, ["ask", "--json", "--library", str(lib),
                                      "What did Russia propose in 2003 for North Korea six-sided discussions?"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["citations"] and not answer["abstained"]
    assert runner.invoke(cli.main, ["doctor", "--library", str(lib)]).exit_code == 0
    assert no_network == []


@pytest.mark.slow
def test_the_real_encoder_loads_and_encodes_with_sockets_blocked(tmp_path):
    script = BLOCK + textwrap.dedent("""
        from qa.embedder import load_encoder
        vectors = load_encoder().encode(["x"])
        assert vectors.shape == (1, 384), vectors.shape
        print("encoded offline; network attempts:", len(ATTEMPTS), ATTEMPTS)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env.update(HF_HOME=str(tmp_path / "hf"), PYTHONPATH=str(REPO), QA_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "encoded offline; network attempts: 0 []" in proc.stdout, proc.stdout
    assert "network access attempted" not in proc.stderr
