"""Every shell walk-through in the docs runs, as written, against ``./scripts/delight dev``, and every
curl step gets the status and the fields the doc shows. A doc that drifts from the service fails."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.docs.conftest import DevServer, banner_exports, curl_on_path
from tests.docs.walkthrough import (
    ROOT,
    Block,
    Response,
    check,
    documents,
    fenced_blocks,
    steps,
    where,
)

DOC_BASE = "http://127.0.0.1:8000"  # the address every doc uses; the test server's replaces it
RUN_SECONDS = 120
ALL_BLOCKS = {path: fenced_blocks(path) for path in documents()}
RUNNABLE = {
    path: blocks
    for path, blocks in ALL_BLOCKS.items()
    if any(block.shell and block.skip_reason is None for block in blocks)
}


@dataclass
class Run:
    returncode: int
    stderr: str
    responses: list[Response]
    failed_at: str | None


def run_document(blocks: list[Block], server: DevServer, folder: Path) -> Run:
    """The document's runnable shell blocks, in order, in one bash (so variables carry over), from
    the repository root, with ``set -euo pipefail`` so that a failing step stops the walk-through."""
    lines = ["set -euo pipefail", "trap 'echo \"docs-test: exit $? at line $LINENO\" >&2' ERR", f"cd {ROOT}"]
    origin: dict[int, str] = {}
    for block in blocks:
        if not block.shell or block.skip_reason is not None:
            continue
        for offset, text in enumerate(block.lines):
            origin[len(lines) + 1] = where(block.path, block.line + offset)
            lines.append(text.replace(DOC_BASE, server.base))
    script = folder / "walkthrough.sh"
    script.write_text("\n".join(lines) + "\n")
    log = folder / "curl.jsonl"
    log.touch()
    env = curl_on_path(folder / "bin", server.env, log)
    try:
        done = subprocess.run(  # noqa: S603
            ["bash", str(script)],  # noqa: S607
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_SECONDS,
            check=False,
        )
        returncode, stderr = done.returncode, done.stderr
    except subprocess.TimeoutExpired as exc:
        returncode, stderr = -1, f"timed out after {RUN_SECONDS} s; stderr: {exc.stderr!r}"
    responses = [Response(**json.loads(line)) for line in log.read_text().splitlines()]
    failed = re.findall(r"docs-test: exit \d+ at line (\d+)", stderr)
    failed_at = origin.get(int(failed[0])) if failed else None
    return Run(returncode, stderr, responses, failed_at)


def walkthrough_problems(blocks: list[Block], server: DevServer, folder: Path) -> list[str]:
    """Run the blocks and compare each curl step's response with the one the doc shows."""
    found, problems = steps(blocks)
    if problems:
        return problems
    run = run_document(blocks, server, folder)
    for step, response in zip(found, run.responses, strict=False):
        mismatches = check(step, response)
        problems += [f"{step.where}: {problem}" for problem in mismatches]
        if mismatches:
            problems.append(f"  the command: {step.command.strip()[:300]}")
    if run.returncode != 0:
        stopped = run.failed_at or "the walk-through"
        problems.append(f"{stopped}: stopped here (exit {run.returncode})\n{run.stderr[-3000:]}")
    elif len(run.responses) != len(found):
        problems.append(f"ran {len(run.responses)} curl commands, the doc shows {len(found)} curl steps")
    return problems


@pytest.mark.parametrize("path", sorted(RUNNABLE), ids=lambda path: str(path.relative_to(ROOT)))
def test_walkthrough_runs_as_written(path: Path, server: DevServer, tmp_path: Path) -> None:
    problems = walkthrough_problems(RUNNABLE[path], server, tmp_path)
    assert problems == [], "\n".join(problems)


DRIFTED = """```bash
BASE=http://127.0.0.1:8000
TOKEN=$(./scripts/delight dev-token --user user_drift)
curl -s -H "Authorization: Bearer $TOKEN" $BASE/api/v1/users/me
# → 200 {"id": "…", "clerk_user_id": "user_someone_else", …}
curl -s -X POST $BASE/api/v1/companion/chat -H "Authorization: Bearer $TOKEN" -d '{"message": "hi"}'
# → 202 {"conversation_id": "…", …}
ID=$(curl -s $BASE/api/v1/users/me | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
# → 200 {"id": "…", …}
echo "never reached"
```
"""


def test_a_doc_that_drifted_from_the_service_fails_with_where_and_why(
    server: DevServer, tmp_path: Path
) -> None:
    doc = tmp_path / "drifted.md"
    doc.write_text(DRIFTED)
    problems = walkthrough_problems(fenced_blocks(doc), server, tmp_path)
    text = "\n".join(problems)
    assert f'{doc}:4: clerk_user_id: expected "user_someone_else", got "user_drift"' in text
    # curl -d without a Content-Type header: the service names the header (415), the doc said 202.
    assert f"{doc}:6: status 415, the doc shows 202" in text
    assert f"{doc}:8: status 401, the doc shows 200" in text
    # The id could not be read from the 401, so the walk-through stopped at that line.
    assert f"{doc}:8: stopped here (exit 1)" in text
    assert "KeyError: 'id'" in text


def test_the_walkthroughs_are_found() -> None:
    """The extractor sees the walk-throughs the issue asked for (a parser that finds nothing would
    make every walk-through test vacuous)."""
    names = {str(path.relative_to(ROOT)) for path in RUNNABLE}
    assert {"README.md", "docs/companion.md", "docs/goals.md"} <= names
    counts = {name: len(steps(RUNNABLE[ROOT / name])[0]) for name in ("docs/companion.md", "docs/goals.md")}
    assert all(count >= 5 for count in counts.values()), counts


def test_blocks_not_run_say_why() -> None:
    skipped = [
        (where(block.path, block.line), block.skip_reason)
        for blocks in ALL_BLOCKS.values()
        for block in blocks
        if block.skip_reason is not None
    ]
    assert all(reason for _, reason in skipped), skipped
    assert len(skipped) <= 8, f"mark sparingly: {skipped}"


def _shell_text(runnable_only: bool = False) -> list[tuple[str, str]]:
    return [
        (where(block.path, block.line + offset), line)
        for blocks in ALL_BLOCKS.values()
        for block in blocks
        if block.shell and not (runnable_only and block.skip_reason is not None)
        for offset, line in enumerate(block.lines)
    ]


def test_one_base_and_one_stream_url_form_everywhere() -> None:
    """``BASE`` is the server's root (paths spell out /api/v1), and the reply is followed at the
    stream_url the chat answer returned, never at a hand-built stream path."""
    for location, line in _shell_text():
        for value in re.findall(r"\bBASE=(\S+)", line):
            assert value == DOC_BASE, f"{location}: BASE={value}"
        assert not re.search(r"\bAPI=", line), f"{location}: use $BASE/api/v1"
        assert "$BASE/" not in line or "$BASE/api/v1/" in line, f"{location}: {line}"
        if "companion/stream/" in line:
            assert "?message_id=" in line, f"{location}: the stream URL is the returned stream_url"
        assert DOC_BASE not in line or "BASE=" in line, f"{location}: use $BASE"


def test_no_walkthrough_needs_a_tool_the_readme_does_not_list() -> None:
    """The README lists Python 3.11+, git and (for the walk-throughs) curl; everything else goes
    through ./scripts/."""
    readme = (ROOT / "README.md").read_text()
    assert "curl" in readme.split("## Two commands", 1)[1].split("##", 1)[0]
    for location, line in _shell_text(runnable_only=True):
        command = line.split(" #", 1)[0]
        assert not re.search(r"(^|[|;&(]\s*)(jq|uv|http|wget)\s", command), f"{location}: {line}"


def test_the_dev_banner_gives_the_docs_base_and_a_working_token(server: DevServer) -> None:
    exports = banner_exports(server.banner())
    assert exports["BASE"] == server.base
    response = httpx.get(
        f"{exports['BASE']}/api/v1/users/me", headers={"Authorization": f"Bearer {exports['TOKEN']}"}
    )
    assert response.status_code == 200
    assert response.json()["clerk_user_id"] == "user_dev"
    stream = next(line for line in server.banner().splitlines() if "companion/stream/" in line)
    assert "?message_id=" in stream
    assert shlex.split(stream.strip())[0] == "curl"
