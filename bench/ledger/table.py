"""Print the README's table from results.jsonl (the newest run of each implementation and size)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

OPS = [
    ("append", "append"),
    ("last_success_verified", "last success + verified"),
    ("last_success", "last success (v1: no verification)"),
    ("gate_recent_digest", "gate read, recent digest (records of D + verified + stored_at)"),
    ("gate_first_digest", "gate read, digest from record 2"),
    ("unresolved_intents", "unresolved intents"),
    ("history_limit_20", "history --limit 20"),
]


def main(path: Path) -> None:
    rows: dict[tuple[str, int], dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows[(row["implementation"], row["records"])] = row
    print("| implementation | operation | " + " | ".join(f"{n:,} records" for n in sizes(rows)) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in sizes(rows)) + " |")
    for impl in dict.fromkeys(k[0] for k in rows):
        for key, label in OPS:
            cells = []
            for n in sizes(rows):
                op = rows.get((impl, n), {}).get(key)
                cells.append(f"{op['calls']} calls, {op['seconds_median']:.3f} s" if op else "not run")
            if any(c != "not run" for c in cells):
                print(f"| {impl} | {label} | " + " | ".join(cells) + " |")


def sizes(rows: dict) -> list[int]:
    return sorted({k[1] for k in rows})


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("results.jsonl")))
