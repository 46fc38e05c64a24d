"""`qa serve` under load: /v1/search requests/s with concurrent clients, and the chat
completions' time to first streamed token beside `qa ask`'s.

    python benchmarks/experiments/serve.py [--clients 8] [--requests 40] [--library LIB] [--model NAME]

LIB defaults to the four bundled sample articles, ingested with the real embedder into a
temporary folder. The server runs in this process on 127.0.0.1 (an ephemeral port) with the
real encoder and LLM, as `qa serve` does.
  * search: CLIENTS threads, each with its own HTTP connection, send REQUESTS searches each
    (questions taken in turn from a small list), after a warm-up; requests/s over the wall
    time, and the median/p90 latency per request.
  * first token: the openai client streams a chat completion for each question; the time
    from sending the request to the first non-empty content delta (retrieval, evidence,
    prompt, first token, HTTP). Beside it `qa ask --json` in a fresh process (the installed
    `qa` next to this Python): its own retrieve_s + first_token_s (the same steps, in-process),
    and the process's wall time to the whole answer (loading included).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.common import describe  # noqa: E402

QUESTIONS = ["What did Russia propose in 2003?", "What did Lavrov warn against in London?",
             "Who accused the United States of preparing for war with North Korea?",
             "What did Losyukov say about the standoff?"]


def p90(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.9 * len(values))) - 1)]


def bench_search(url: str, clients: int, requests: int) -> dict:
    latencies: list[float] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for j in range(requests):
                start = time.perf_counter()
                r = http.post("/v1/search", json={"query": QUESTIONS[(i + j) % len(QUESTIONS)]})
                r.raise_for_status()
                with lock:
                    latencies.append(time.perf_counter() - start)

    with httpx.Client(base_url=url) as http:  # warm-up: encoder sessions, page cache
        for q in QUESTIONS:
            http.post("/v1/search", json={"query": q}).raise_for_status()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {"clients": clients, "requests": len(latencies), "wall_s": round(wall, 2),
            "requests_per_s": round(len(latencies) / wall, 1),
            "latency_median_ms": round(1000 * statistics.median(latencies), 1),
            "latency_p90_ms": round(1000 * p90(latencies), 1)}


def bench_first_token(url: str, model_id: str) -> list[dict]:
    from openai import OpenAI

    client = OpenAI(base_url=f"{url}/v1", api_key="-", max_retries=0, timeout=600)
    rows = []
    for q in QUESTIONS:
        start = time.perf_counter()
        first = None
        for chunk in client.chat.completions.create(model=model_id, stream=True,
                                                    messages=[{"role": "user", "content": q}]):
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - start
        rows.append({"question": q, "first_token_s": round(first, 2), "total_s": round(time.perf_counter() - start, 2)})
    return rows


def bench_qa_ask(library: Path, model: str | None) -> list[dict]:
    qa = Path(sys.executable).with_name("qa")
    rows = []
    for q in QUESTIONS:
        args = [str(qa), "ask", q, "--json", "--library", str(library)] + (["--model", model] if model else [])
        start = time.perf_counter()
        out = subprocess.run(args, capture_output=True, text=True, check=True, env=os.environ).stdout
        wall = time.perf_counter() - start
        t = json.loads(out)["timings"]
        rows.append({"question": q, "first_token_s": round(t.get("retrieve_s", 0) + t.get("first_token_s", 0), 2),
                     "process_wall_s": round(wall, 2)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=40, help="searches per client")
    parser.add_argument("--library", type=Path)
    parser.add_argument("--model")
    parser.add_argument("--skip-llm", action="store_true", help="Only the search figures.")
    args = parser.parse_args()

    from qa.embedder import load_encoder
    from qa.api import SEEDS, Assistant
    from qa.library import create_library
    from qa.server.http import build_app, running

    encoder = load_encoder()
    library = args.library
    if library is None:
        library = Path(tempfile.mkdtemp(prefix="qa-serve-bench-")) / "seeds"
        create_library(library, encoder).add([SEEDS], encoder)
    assistant = Assistant(library, model=args.model, encoder=encoder)
    encoder.warm_up()
    print(describe())
    result: dict = {}
    with running(build_app(assistant, queue=16)) as url:
        result["search"] = bench_search(url, args.clients, args.requests)
        print(json.dumps(result["search"]))
        if not args.skip_llm:
            assistant.llm  # loaded before timing, as `qa serve` does at start
            result["chat_first_token"] = bench_first_token(url, f"qa/{assistant.library.name}")
            print(json.dumps(result["chat_first_token"]))
    if not args.skip_llm:
        result["qa_ask"] = bench_qa_ask(library, args.model)
        print(json.dumps(result["qa_ask"]))
        served = [r["first_token_s"] for r in result["chat_first_token"][1:]]  # the first pays the prompt cache
        asked = [r["first_token_s"] for r in result["qa_ask"]]
        print(f"median first token: chat completions {statistics.median(served):.2f} s (warm server), "
              f"qa ask {statistics.median(asked):.2f} s (in its process, after loading; "
              f"process wall {statistics.median(r['process_wall_s'] for r in result['qa_ask']):.1f} s)")


if __name__ == "__main__":
    main()
