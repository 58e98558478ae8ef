#!/usr/bin/env python3
"""Regenerates the examples in docs/report-schema.md from the real binary.

Usage: scripts/doc-examples.py [RACECAP]   (default: target/release/racecap)

Each example is the binary's output on a lab recording, trimmed the way the
text above it says (the first finding, the first server, three of its
recommendations); what is kept is verbatim. tests/docs.rs checks that the
page still matches the binary, so run this after a change to the report.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "report-schema.md"
BIN = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target" / "release" / "racecap")


def run(*args):
    out = subprocess.run([BIN, *args], cwd=ROOT, capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit(f"racecap {' '.join(args)}: {out.stderr}")
    return out.stdout


def pretty(value):
    # serde_json's pretty printer: two spaces, ": ", non-ASCII as is.
    return json.dumps(value, indent=2, ensure_ascii=False)


def race_example():
    r = json.loads(run("analyze", "fixtures/lab/post-races.backend.pcap", "--format", "json"))
    r["summary"]["servers"] = r["summary"]["servers"][:1]
    r["findings"] = r["findings"][:1]
    r["servers"] = r["servers"][:1]
    s = r["servers"][0]
    s["recommendations"] = [
        x
        for x in s["recommendations"]
        if x["side"] in ("server", "retries") or x["proxy"] == "nginx-upstream"
    ]
    return pretty(r)


def connections_example():
    r = json.loads(
        run("analyze", "fixtures/lab/control.backend.pcap", "--format", "json", "--connections")
    )
    return pretty({"connections": r["connections"]})


def jsonl_example():
    return run("analyze", "fixtures/lab/post-races.backend.pcap", "--format", "jsonl").splitlines()[0]


def replace_block(text, heading, fence, body):
    """Replaces the first fenced block after `heading`."""
    start = text.index(heading)
    open_at = text.index(fence + "\n", start) + len(fence) + 1
    close_at = text.index("\n```\n", open_at)
    return text[:open_at] + body + text[close_at:]


def main():
    text = DOC.read_text()
    text = replace_block(text, "### A race capture (trimmed)", "```json", race_example())
    text = replace_block(text, "### The `connections` array", "```json", connections_example())
    text = replace_block(text, "### One JSON Lines record", "```", jsonl_example())
    DOC.write_text(text)


if __name__ == "__main__":
    main()
