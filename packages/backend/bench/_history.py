"""How docs/benchmarks.md's sections from before stamped runs were restored from git history.

    uv run python -m bench._history record   # the restored sections, as written to the record
    uv run python -m bench._history quotes   # the withdrawn texts, as quoted in the notes

Until the runner stamped its sections, docs/benchmarks.md was edited by hand: two sections were
deleted, one line rewritten, commentary added inside generated sections, and some sections hold
figures the bench code at their recorded commit could not have produced. This module reads every
section ever committed (``git show <commit>:docs/benchmarks.md``), keeps their order and text, and
states per section what the history shows (``LEGACY``). Sections whose figures cannot come from the
code at their recorded commit stay in the record as withdrawn stubs (so the chronology is whole)
and their text moves, labelled, to docs/benchmarks-notes.md; hand-written paragraphs inside kept
sections move there too. It was run once; it is kept so the restoration can be re-checked.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass

from bench import report

# Commits that changed docs/benchmarks.md before stamped runs, oldest first.
HISTORY = ("d14dbca", "0a311a8", "9454483", "51f8438", "e2fbe9b", "e531db1")
HISTORY += ("635162c", "33152d4", "f22f05a", "585cb7f", "885460c")
BENCH_FOR_TITLE = {
    "Memory recall latency": "memory_latency",
    "Memory recall quality": "memory_eval",
    "auth:": "auth",
    "companion_stream:": "companion_stream",
    "companion_extraction:": "companion_extraction",
}
_STAMP = re.compile(r"^_(\d{4}-\d\d-\d\d \d\d:\d\d) UTC · commit (\w+) · (.+)_$", re.MULTILINE)


@dataclass(frozen=True)
class Legacy:
    """What the history says about one section (keyed by its run time)."""

    command: str
    load: str
    withdrawn: str | None = None  # why its figures cannot come from the recorded commit
    handwritten: tuple[str, ...] = ()  # opening words of hand-written paragraphs moved to the notes
    also: str = ""  # more provenance


NOT_RECORDED = "not recorded"
UNCOMMITTED_RECALL = (
    "it ran while the working tree held the uncommitted recall round-trip change in `app/memory` "
    "(the 02:09 and 02:18 runs say so in their notes; the change was committed in f22f05a at 02:25, "
    "the commit that recorded this section), so the stamped commit is not the code it measured"
)
LEGACY: dict[str, Legacy] = {
    "2026-11-26 00:54": Legacy(
        "not recorded (`./scripts/bench memory_latency` with a 20,000-memory scale)",
        NOT_RECORDED,
        withdrawn="`bench/memory_latency.py` (and `app/memory`) did not exist at 198d8b9; both were "
        "first committed in d14dbca, the commit that recorded this section",
    ),
    "2026-11-26 01:30": Legacy(
        "not recorded (`./scripts/bench memory_eval`)",
        NOT_RECORDED,
        withdrawn="its table rows (`hybrid (default: similarity .80, …)`, `similarity .70, lexical .15, …`) "
        "are those of `bench/memory_eval.py` as committed later in 9454483, while the version at "
        "ff2e08e printed `hybrid (default)` and a `.80/.05` variant; and it lacks the embedding-"
        "throughput line 9454483 prints: an uncommitted, intermediate bench",
    ),
    "2026-11-26 01:44": Legacy(
        "not recorded (`MEMORY_LATENCY_REUSE=1 ./scripts/bench memory_latency`)",
        "5.9 before, 7.6 after (1-min load average, printed by the bench)",
        withdrawn="it reports `ef_search=1000`, but at 9454483 `LOCAL_TUNING.hnsw_ef_search` was 400 "
        "(1000 came with 51f8438, the commit that recorded this section); and its Setup line was "
        "rewritten by hand with figures of an earlier, unrecorded run",
    ),
    "2026-11-26 01:46": Legacy(
        "not recorded (`./scripts/bench memory_eval`)",
        "5.7 during the embedding timing (1-min load average, printed by the bench)",
    ),
    "2026-11-26 01:49": Legacy(
        "`AUTH_BENCH_ROUNDS=5 AUTH_BENCH_SECONDS=5 ./scripts/bench auth` (inferred: the text says 5 rounds "
        "of 5 s, the defaults at 9507cc9 were 3 × 6 s; the Command line the bench printed omits them)",
        "not recorded by the bench (a hand-written note, moved to the notes, says ≈ 5)",
        handwritten=("Notes on this run (auth)",),
    ),
    "2026-11-26 01:52": Legacy(
        "`./scripts/bench companion_stream` (printed by the bench)",
        "2.6 before, 4.1 after (1-min load average, printed by the bench)",
    ),
    "2026-11-26 01:54 companion_extraction": Legacy(
        "`uv run python -m bench companion_extraction` (printed by the bench)",
        NOT_RECORDED,
    ),
    "2026-11-26 01:54 memory_latency": Legacy(
        "not recorded (`MEMORY_LATENCY_REUSE=1 ./scripts/bench memory_latency`: the index was reused)",
        "1.5 before, 1.9 after (1-min load average, printed by the bench)",
    ),
    "2026-11-26 02:09": Legacy(
        "not recorded (`MEMORY_LATENCY_REUSE=1 ./scripts/bench memory_latency`)",
        "2.5 before, 3.6 after (1-min load average, printed by the bench)",
        withdrawn="by its own note it measured an intermediate, uncommitted version of the recall "
        "round-trip change in `app/memory`",
        handwritten=("Note:",),
    ),
    "2026-11-26 02:12": Legacy(
        "not recorded (`./scripts/bench memory_eval`)",
        "3.2 during the embedding timing (1-min load average, printed by the bench)",
        withdrawn=UNCOMMITTED_RECALL,
    ),
    "2026-11-26 02:14": Legacy(
        "`COMPANION_BENCH_LEVELS=50 ./scripts/bench companion_stream` (the level from its note)",
        "2.6 before, 3.7 after (1-min load average, printed by the bench)",
        withdrawn=UNCOMMITTED_RECALL,
        handwritten=("Note:",),
    ),
    "2026-11-26 02:18": Legacy(
        "not recorded (`MEMORY_LATENCY_REUSE=1 ./scripts/bench memory_latency`)",
        "2.0 before, 2.9 after (1-min load average, printed by the bench)",
        withdrawn="by its own note it measured the recall round-trip change in `app/memory`, "
        "uncommitted at 32ca948; its note also quotes a paired old-vs-new comparison that no "
        "bench code produces",
        handwritten=("Note:",),
    ),
    "2026-11-26 02:21": Legacy(
        "`COMPANION_BENCH_LEVELS=50 ./scripts/bench companion_stream` (the level from its note)",
        "2.4 before, 2.9 after (1-min load average, printed by the bench)",
        withdrawn="by its own note it measured the recall round-trip change (uncommitted at 32ca948) "
        "and `app/companion` work in progress",
        handwritten=("Note:",),
    ),
    "2026-11-26 02:38": Legacy(
        "`./scripts/bench companion_stream` (printed by the bench)",
        "0.3 before, 1.6 after (1-min load average, printed by the bench)",
    ),
    "2026-11-26 02:40": Legacy(
        "`./scripts/bench auth` (printed by the bench; the text matches the defaults)",
        NOT_RECORDED,
    ),
    "2026-11-26 02:41": Legacy(
        "not recorded (`MEMORY_LATENCY_REUSE=1 ./scripts/bench memory_latency`)",
        "1.1 before, 1.9 after (1-min load average, printed by the bench)",
    ),
    "2026-11-26 02:45": Legacy(
        "`./scripts/bench companion_stream` (printed by the bench)",
        "0.2 before, 1.8 after (1-min load average, printed by the bench)",
        also="; recorded in 885460c with a refactor of this bench's server start-up into "
        "`bench/servers.py` that was probably not yet committed when it ran: the refactor starts the "
        "same uvicorn command, so the code at 585cb7f produces the same measurement",
    ),
    "2026-11-26 02:46": Legacy(
        "`./scripts/bench auth` (printed by the bench; the text matches the defaults)",
        NOT_RECORDED,
        also="; recorded in 885460c with a refactor of this bench's server start-up into "
        "`bench/servers.py` that was probably not yet committed when it ran: the refactor starts the "
        "same uvicorn command, so the code at 585cb7f produces the same measurement",
    ),
}


@dataclass
class Found:
    title: str
    text: str  # everything after the heading line
    when: str
    commit: str
    machine: str
    bench: str
    first_seen: str
    last_seen: str


def _git(*args: str) -> str:
    return subprocess.run(  # noqa: S603
        ["git", "-C", str(report.REPO), *args],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def found_sections() -> list[Found]:
    """Every section in any committed version, once, in order of its run time."""
    seen: dict[tuple[str, str], Found] = {}
    for commit in HISTORY:
        text = _git("show", f"{commit}:docs/benchmarks.md")
        for part in re.split(r"(?m)^(?=## )", text)[1:]:
            title, _, rest = part.partition("\n")
            title = title[3:].strip()
            stamp = _STAMP.search(rest)
            if stamp is None:
                raise SystemExit(f"{commit}: section without a stamp: {title}")
            bench = next(b for prefix, b in BENCH_FOR_TITLE.items() if title.startswith(prefix))
            key = (stamp.group(1), bench)
            if key in seen:
                if seen[key].text.strip() != rest.strip():
                    raise SystemExit(f"{key}: rewritten in {commit}; restore by hand")
                seen[key].last_seen = commit
            else:
                seen[key] = Found(
                    title, rest, stamp.group(1), stamp.group(2), stamp.group(3), bench, commit, commit
                )
    return sorted(seen.values(), key=lambda f: (f.when, f.first_seen))


def legacy_for(found: Found) -> Legacy:
    return LEGACY.get(f"{found.when} {found.bench}") or LEGACY[found.when]


def anchor(found: Found) -> str:
    when = found.when.replace(" ", "-").replace(":", "")
    return f"withdrawn-{when}-{found.bench.replace('_', '-')}"


def _paragraphs(text: str) -> list[str]:
    return [p.strip("\n") for p in re.split(r"\n\s*\n", text.strip("\n"))]


def split_handwritten(found: Found) -> tuple[str, list[str]]:
    """The section's text without its hand-written paragraphs, and those paragraphs."""
    openings = legacy_for(found).handwritten
    kept, moved = [], []
    for paragraph in _paragraphs(found.text):
        (moved if paragraph.startswith(openings) and openings else kept).append(paragraph)
    if len(moved) != len(openings):
        raise SystemExit(f"{found.when} {found.bench}: expected {openings}, moved {len(moved)}")
    return "\n\n".join(kept), moved


def record_sections() -> str:
    head = _git("rev-parse", "HEAD").strip()
    out = []
    for found in found_sections():
        legacy = legacy_for(found)
        full = _git("rev-parse", found.commit).strip()
        deleted = "" if found.last_seen == head or found.last_seen == HISTORY[-1] else found.last_seen
        provenance = f"restored from git history: text as first committed in {found.first_seen}"
        if deleted:
            following = HISTORY[HISTORY.index(deleted) + 1]
            provenance += f", deleted from the file in {following}"
        body, moved = split_handwritten(found)
        if moved:
            provenance += "; hand-written commentary moved to the notes"
        provenance += legacy.also
        fields = {
            "bench": f"`{found.bench}`",
            "run": f"{found.when} UTC",
            "commit": f"`{full}` (tree state not recorded)",
            "command": legacy.command,
            "machine": found.machine,
            "load": legacy.load,
            "record": provenance,
        }
        if legacy.withdrawn:
            link = f"[benchmarks-notes.md](benchmarks-notes.md#{anchor(found)})"
            fields["status"] = f"withdrawn: {legacy.withdrawn}"
            stamp_line = _STAMP.search(found.text)
            assert stamp_line is not None
            body = (
                f"{stamp_line.group(0)}\n\n"
                "Figures withdrawn from the record (see `status`); the original text, labelled, "
                f"is in {link}."
            )
        out.append(report.render_section(found.title, fields, body))
    return "\n".join(out)


def quotes() -> str:
    """The withdrawn sections and moved paragraphs, blockquoted for the notes."""
    out = []
    for found in found_sections():
        legacy = legacy_for(found)
        _, moved = split_handwritten(found)
        if legacy.withdrawn:
            out.append(f'<a id="{anchor(found)}"></a>\n### {found.when} UTC · `{found.bench}` (withdrawn)\n')
            quoted = "\n".join(f"> {line}".rstrip() for line in found.text.strip("\n").splitlines())
            out.append(f"> ## {found.title}\n>\n{quoted}\n")
        elif moved:
            out.append(f"### {found.when} UTC · `{found.bench}` (hand-written paragraph)\n")
            out.append("\n".join(f"> {line}".rstrip() for p in moved for line in p.splitlines()) + "\n")
    return "\n".join(out)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "record"
    sys.stdout.write(record_sections() + "\n" if what == "record" else quotes())
