"""What every benchmark shares: the machine's description and the dev data's default places."""
from __future__ import annotations

import os
import platform
import pty
import re
import select
import subprocess
import time
import zlib
from pathlib import Path

from qa.paths import data_dir

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "eval" / "rtqa-2025"


SIMD = (("AVX2", "avx2"), ("AVX-512", "avx512f"), ("AVX-512 VNNI", "avx512_vnni"), ("AVX-VNNI", "avx_vnni"),
        ("AMX", "amx_tile"))


def split(questions: list[dict], part: str) -> list[dict]:
    """The ``dev`` (tuning) or ``holdout`` half of the questions by id hash, or ``all``: a method
    tuned on one half is confirmed on the other."""
    if part == "all":
        return questions
    return [q for q in questions if (zlib.crc32(q["id"].encode()) % 2 == 0) == (part == "dev")]


def dev_library() -> Path:
    """The library of the dev corpus that ``qa eval ../shared/eval/rtqa-2025`` builds and reuses."""
    return data_dir() / "libraries" / f"eval-{DATASET.name}"


def describe() -> str:
    """One line: figures mean little without the machine they came from."""
    cpu = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    # What decides llama.cpp's and ONNX Runtime's speed more than the model name does.
    simd = [name for name, flag in SIMD if flag in flags]
    cpu += f"; {', '.join(simd)}" if simd else ""
    try:
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
        mem = f"{mem_kb / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration):
        mem = "RAM unknown"
    return (f"{os.cpu_count()} cores ({cpu}), {mem}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def on_a_terminal(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
                  timeout: float = 900) -> list[tuple[float, str]]:
    """Run ``cmd`` with stdout and stderr on a pseudo-terminal (so it streams and shows its bars as
    for a user) and return each distinct text it showed with the second it first appeared: whole
    lines, and an unfinished line as it grows (a status line, an answer streaming word by word).
    Raises on a non-zero exit."""
    master, slave = pty.openpty()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env, cwd=cwd,
                            close_fds=True)
    os.close(slave)
    seen: dict[str, float] = {}
    buffer = ""
    while True:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                data = b""
            if not data:
                break
            buffer += data.decode(errors="replace")
            *lines, buffer = re.split(r"[\r\n]", buffer)
            for line in lines + [buffer]:  # the unfinished line too: a status line, a streaming answer
                text = _ANSI.sub("", line).strip()
                if text:
                    seen.setdefault(text, time.perf_counter() - start)
        elif proc.poll() is not None:
            break
        if time.perf_counter() - start > timeout:
            proc.kill()
            raise TimeoutError(f"{cmd} ran past {timeout} s")
    os.close(master)
    if proc.wait() != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {list(seen)[-5:]}")
    return sorted(((t, text) for text, t in seen.items()), key=lambda x: x[0])
