"""No network: ingest, ask and token counting work with every socket refused, loading the real
encoder does not phone home (no Hugging Face hub), and `qa serve` running for a minute makes no
socket call past loopback (strace sees C++ threads too: ONNX Runtime's telemetry)."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest
from click.testing import CliRunner

from qa import cli

from conftest import REPO, SEEDS
from fakes import FakeEncoder, FakeLLM, loads

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


def test_ingest_ask_and_token_counting_without_network(no_network, use_loaders, tmp_path):
    from embeddings.encoder import TokenCounter
    from qa.models import embedder_spec, model_path

    llm = FakeLLM("Russia proposed six-sided discussions [1].")
    use_loaders(encoder=FakeEncoder, llm=loads(llm))
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def foreign_traffic(trace: str) -> list[str]:
    """The lines of an ``strace -e trace=connect,sendto,sendmsg`` log that reach past this
    machine: an IPv4/IPv6 address other than loopback, or any DNS query (port 53, even to a
    resolver on loopback)."""
    loopback = re.compile(r'inet_addr\("127\.|inet_pton\(AF_INET6, "(::1|::ffff:127\.)')
    return [line for line in trace.splitlines()
            if "htons(53)" in line or ("AF_INET" in line and "sin" in line and not loopback.search(line))]


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("strace"), reason="needs strace (apt-get install strace)")
def test_qa_serve_sends_nothing_but_loopback_for_a_minute(seed_library, tmp_path):
    """Every socket call of `qa serve` and its threads (C++ ones included: ONNX Runtime's
    telemetry resolved mobile.events.data.microsoft.com from one) is seen by strace."""
    port = free_port()
    trace = tmp_path / "strace.log"
    from qa.paths import cache_dir

    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}  # qa's own setting counts
    # A HOME of its own, to see whether a telemetry device id is written there; the models'
    # cache stays where it is (the joined weights and the encoder's ONNX export).
    env.update(PYTHONPATH=str(REPO), HOME=str(tmp_path), QA_HOME=str(tmp_path / "qa"), QA_THREADS="1",
               QA_CACHE=str(cache_dir()))
    server = subprocess.Popen(
        ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace),
         sys.executable, "-c", "from qa.cli import main; main()", "serve", "--library", str(seed_library),
         "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 600  # the language model loads first
        while "qa serve:" not in (line := server.stderr.readline()):
            assert line and time.monotonic() < deadline, "qa serve did not start"
        while True:  # the line comes just before uvicorn listens
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "qa serve does not answer"
                time.sleep(0.2)
        ready = time.monotonic()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/search", method="POST",
                                         data=json.dumps({"query": "Russia"}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=300) as response:  # the encoder's session starts
            assert json.loads(response.read())["passages"]
        time.sleep(max(0.0, 60 - (time.monotonic() - ready)))
    finally:
        stop_group(server)
    log = trace.read_text()
    assert foreign_traffic(log) == []
    assert not (tmp_path / ".cache" / "Microsoft").exists()  # no telemetry device id either


def stop_group(process: subprocess.Popen, timeout: float = 60) -> None:
    """Interrupt ``process`` and everything it started (its own session), then kill what is left
    after ``timeout``: SIGINT to strace alone detaches it and leaves the server it traced running."""
    os.killpg(process.pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        process.poll()
        time.sleep(0.2)
    else:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_the_guard_sees_what_onnx_runtime_sent():
    """Lines as strace wrote them when onnxruntime 1.32 phoned home, and loopback ones that pass."""
    seen = ('5743  connect(9, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0\n'
            '5744  connect(9, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("13.69.239.72")}, 16) = 0\n'
            '5745  connect(9, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.53")}, 16) = 0\n'
            '5746  connect(9, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), '
            'inet_pton(AF_INET6, "2603:1030::5", &sin6_addr), sin6_scope_id=0}, 28) = 0\n')
    fine = ('5747  connect(7, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16) = 0\n'
            '5748  connect(7, {sa_family=AF_INET6, sin6_port=htons(8080), sin6_flowinfo=htonl(0), '
            'inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0\n'
            '5749  connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT\n')
    assert len(foreign_traffic(seen)) == 4 and foreign_traffic(fine) == []
