"""CPU time and memory growth of the strict YAML reader on hostile input, one case at a time."""

from __future__ import annotations

import resource
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness.errors import InputError
from harness.yamlfile import MAX_BYTES, read_yaml_file

CASES: dict[str, Callable[[], str]] = {
    "alias bomb (10^12 nodes if expanded)": lambda: (
        "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 12))
    ),
    "flow nesting 200000 deep": lambda: "a: " + "[" * 200_000 + "]" * 200_000 + "\n",
    "200000 values": lambda: "a: [" + ", ".join(["1"] * 200_000) + "]\n",
    "1 MiB of digits": lambda: "a: " + "9" * (MAX_BYTES - 10) + "\n",
    "just under the size limit, strings": lambda: "".join(
        f"k{i}: '{'x' * 90}'\n" for i in range(MAX_BYTES // 100 - 10)
    ),
    "NaN": lambda: "a: {b: [1, .nan]}\n",
    "19000 values (accepted)": lambda: "a: [" + ", ".join(["1"] * 19_000) + "]\n",
}


def measure(text: str) -> tuple[float, float, str]:
    """(CPU seconds, peak memory growth in MB, outcome) of reading `text` from a file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.yaml"
        path.write_text(text, encoding="utf-8")
        before = resource.getrusage(resource.RUSAGE_SELF)
        try:
            read_yaml_file(path)
            outcome = "accepted"
        except InputError as exc:
            outcome = exc.reason
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return cpu, (after.ru_maxrss - before.ru_maxrss) / 1024, outcome


def main() -> int:
    # One process per run would isolate peak memory; ru_maxrss only grows, so the cases run
    # from the cheapest upwards and each growth figure is an upper bound for that case.
    for name, make in CASES.items():
        cpu, grown, outcome = measure(make())
        print(f"{name:<40} cpu {cpu * 1000:7.1f} ms  memory +{grown:6.1f} MB  {outcome[:60]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
