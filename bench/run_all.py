"""Every benchmark in one go (`make bench`): reminders due at once, the webhook vs its floor,
answer parsing against the parser before issue 10b, red-flag recall and false alarms.

Each prints its own Markdown table; docs/benchmarks.md has the figures and how to read them.
`python bench/run_all.py --quick` runs smaller versions (a minute or two in all).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = {
    "bench_reminders.py": ["--patients", "2000"],
    "bench_webhook.py": ["--seconds", "5", "--rounds", "1"],
    "bench_answers.py": [],
    "understanding.py": ["--variants", "1"],
    "bench_whatsapp.py": ["--patients", "30"],
}


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    missing = [tool for tool in ("redis-server", "wrk") if shutil.which(tool) is None]
    if missing:
        print(f"missing: {', '.join(missing)}; install with: apt-get install {' '.join(missing)}",
              file=sys.stderr)  # fmt: skip
        return 2
    failed = 0
    for script in QUICK:
        print(f"\n## {script}\n", flush=True)
        started = time.monotonic()
        command = [sys.executable, str(HERE / script), *(QUICK[script] if quick else [])]
        code = subprocess.run(command, check=False).returncode
        print(f"\n({script}: exit {code}, {time.monotonic() - started:.0f} s)", flush=True)
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
