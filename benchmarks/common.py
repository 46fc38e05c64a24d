"""What every benchmark shares: the machine's description and the dev data's default places."""
from __future__ import annotations

import os
import platform
from pathlib import Path

from qa.paths import data_dir

DATASET = Path(__file__).resolve().parents[2] / "shared" / "eval" / "rtqa-2025"


def dev_library() -> Path:
    """The library of the dev corpus that ``qa eval ../shared/eval/rtqa-2025`` builds and reuses."""
    return data_dir() / "libraries" / f"eval-{DATASET.name}"


def describe() -> str:
    """One line: figures mean little without the machine they came from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
        mem = f"{mem_kb / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration):
        mem = "RAM unknown"
    return (f"{os.cpu_count()} cores ({cpu}), {mem}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")
