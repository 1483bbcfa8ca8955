#!/usr/bin/env python3
"""Print criterion's results as tables of ratios against our implementation.

Reads every <target>/criterion/<group>/<impl>/<input>/new/estimates.json
(target: $CARGO_TARGET_DIR, else ./target), and for each group and input
prints our time and throughput, then `peer time / our time` for every other
impl: above 1 means we are faster; for `floor` (the least any decoder must
do) it says how close we are. Any group whose benches follow the
<group>/<impl>/<input> naming shows up, so new benches need no change here.
Exits non-zero when there is nothing to read.
"""

import json
import os
import sys
from pathlib import Path

OURS = "ours"


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR") or "target")


def point_ns(estimates: dict) -> float:
    """Criterion's headline time: the regression slope, else the mean."""
    slope = estimates.get("slope")
    if slope and slope.get("point_estimate") is not None:
        return float(slope["point_estimate"])
    return float(estimates["mean"]["point_estimate"])


def load(root: Path) -> dict:
    """{group: {input: {impl: (ns, bytes or None)}}} from criterion's output."""
    results: dict = {}
    for est in sorted(root.glob("*/*/*/new/estimates.json")):
        new = est.parent
        meta_path = new / "benchmark.json"
        try:
            estimates = json.loads(est.read_text())
            meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        except (OSError, ValueError) as e:
            print(f"skipping {est}: {e}", file=sys.stderr)
            continue
        # Prefer the ids criterion recorded; directory names are sanitized.
        group = meta.get("group_id") or new.parents[2].name
        impl = meta.get("function_id") or new.parents[1].name
        inp = meta.get("value_str") or new.parent.name
        throughput = (meta.get("throughput") or {}).get("Bytes")
        results.setdefault(group, {}).setdefault(inp, {})[impl] = (
            point_ns(estimates),
            throughput,
        )
    return results


def fmt_time(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_rate(nbytes, ns: float) -> str:
    if not nbytes:
        return "-"
    per_s = nbytes / (ns / 1e9)
    for unit, scale in (("GiB/s", 2**30), ("MiB/s", 2**20), ("KiB/s", 2**10)):
        if per_s >= scale:
            return f"{per_s / scale:.3g} {unit}"
    return f"{per_s:.3g} B/s"


def table(group: str, inputs: dict) -> list:
    impls = sorted({i for per in inputs.values() for i in per if i != OURS})
    header = ["input", "bytes", f"{OURS} time", f"{OURS} thrpt"] + [
        f"{i}/{OURS}" for i in impls
    ]
    rows = [header]
    for inp, per in inputs.items():
        ours = per.get(OURS)
        nbytes = next((b for _, b in per.values() if b), None)
        row = [inp, str(nbytes or "-")]
        if ours:
            row += [fmt_time(ours[0]), fmt_rate(nbytes, ours[0])]
        else:
            row += ["-", "-"]
        for i in impls:
            peer = per.get(i)
            if ours and peer:
                row.append(f"{peer[0] / ours[0]:.2f}x ({fmt_time(peer[0])})")
            elif peer:
                row.append(fmt_time(peer[0]))
            else:
                row.append("-")
        rows.append(row)
    return rows


def input_order(name: str):
    """Small frames first: by size when the name is one, else as named."""
    order = {"heartbeat": 0, "push": 1, "join": 2}
    if name in order:
        return (0, order[name], name)
    digits = name.rstrip("kKmM")
    if digits.isdigit():
        return (1, int(digits), name)
    return (2, 0, name)


def main() -> int:
    root = target_dir() / "criterion"
    results = load(root)
    if not results:
        print(f"no criterion results under {root}; run `cargo bench` first", file=sys.stderr)
        return 1
    print(f"ratios = peer time / {OURS} time (> 1: {OURS} is faster; floor: how close we are)")
    for group in sorted(results):
        inputs = dict(sorted(results[group].items(), key=lambda kv: input_order(kv[0])))
        rows = table(group, inputs)
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        print(f"\n## {group}")
        for k, row in enumerate(rows):
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
            if k == 0:
                print("  ".join("-" * w for w in widths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
