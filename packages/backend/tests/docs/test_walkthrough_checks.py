"""The walk-through checker itself: what it extracts from a doc, and that a response differing from
the one shown is reported (a checker that cannot fail would make the walk-through tests vacuous)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.walkthrough import (
    Response,
    check,
    compare,
    compare_lines,
    fenced_blocks,
    parse_expected,
    steps,
)

DOC = """# A doc

<!-- docs-test: skip — starts a server -->
```bash
./scripts/dev
```

```bash
command -v curl >/dev/null || echo "needs curl"
BASE=http://127.0.0.1:8000
ID=$(curl -s -X POST $BASE/api/v1/things -d '{
  "name": "a # not a comment"}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
# → 201 {"id": "…", "name": "a # not a comment", …}
echo "$ID"
curl -sN "$BASE/api/v1/things/$ID/stream"
# → 200 text/event-stream
#   retry: 2000
#   …
#   data: {"type": "complete", "id": "…"}
```

```json
{"not": "a shell block"}
```

- In a list:
  ```sh
  curl -s -X DELETE $BASE/api/v1/things/$ID
  # → 204
  ```
"""


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(DOC)
    return path


def test_blocks_steps_and_expectations_are_extracted(doc: Path) -> None:
    blocks = fenced_blocks(doc)
    assert [(b.language, b.skip_reason) for b in blocks] == [
        ("bash", "starts a server"),
        ("bash", None),
        ("json", None),
        ("sh", None),
    ]
    found, problems = steps(blocks)
    assert problems == []
    # `command -v curl` is not a request; a quoted "#" and a multi-line quote stay in one command.
    assert [step.line for step in found] == [11, 15, 28]
    assert "a # not a comment" in found[0].command and found[0].command.endswith("""["id"])')""")
    first, stream, delete = (step.expectation for step in found)
    assert first is not None and first.status == 201
    assert first.expected_json() == {
        "id": "…",  # a string pattern: any non-empty string
        "name": "a # not a comment",
        "\u2026more\u2026": None,
    }
    assert stream is not None and (stream.status, stream.media_type) == (200, "text/event-stream")
    assert stream.body == ["retry: 2000", "…", 'data: {"type": "complete", "id": "…"}']
    assert delete is not None and (delete.status, delete.json_text, delete.body) == (204, None, [])


def test_a_curl_without_a_shown_response_or_a_response_without_curl_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "doc.md"
    path.write_text(
        "```bash\ncurl -s $BASE/a\ncurl -s $BASE/b\n# → 200 {}\n```\n\n```bash\n# → 200 {}\n```\n"
    )
    _, problems = steps(fenced_blocks(path))
    assert problems == [
        f"{path}:2: this curl step shows no response (# → STATUS ...)",
        f"{path}:8: a response shown without a curl step",
    ]


def test_ellipses_in_expected_json() -> None:
    expected = parse_expected('{"a": …, "b": [1, …], "c": "x…y", …}')
    assert compare(expected, {"a": None, "b": [1, 2, 3], "c": "x-y", "d": 4}) == []
    assert compare(expected, {"a": 1, "b": [1], "c": "x-y"}) == []


@pytest.mark.parametrize(
    ("shown", "actual", "problem"),
    [
        ('{"a": 1}', {"a": 2}, "a: expected 1, got 2"),
        ('{"a": 1}', {"a": 1, "b": 2}, "fields the doc does not show: ['b']"),
        ('{"a": 1, …}', {"b": 1}, "no field 'a'"),
        ('{"a": [1, 2]}', {"a": [1]}, "a: expected 2 items, got 1"),
        ('{"a": [1, …]}', {"a": []}, "a: expected 1+ items, got 0"),
        ('{"a": "…"}', {"a": None}, "a: expected '…', got null"),
        ('{"a": "…"}', {"a": ""}, "a: expected '…', got \"\""),
        ('{"a": "/x/…?id=…"}', {"a": "/x/1"}, "a: expected '/x/…?id=…'"),
        ('{"a": 1}', {"a": True}, "a: expected 1, got true"),
        ('{"a": null}', {"a": 0}, "a: expected null, got 0"),
        ("[…]", {"a": 1}, "expected a list"),
    ],
)
def test_a_response_that_differs_from_the_doc_is_reported(shown: str, actual: object, problem: str) -> None:
    problems = compare(parse_expected(shown), actual)
    assert len(problems) == 1 and problem in problems[0], problems


def test_event_stream_lines() -> None:
    shown = [
        "retry: 2000",
        "id: …",
        'data: {"type": "token", "content": "…"}',
        "…",
        'data: {"type": "complete"}',
    ]
    stream = [
        "retry: 2000",
        "id: 1-0",
        'data: {"type":"token","content":"Hi "}',
        "id: 1-1",
        'data: {"type":"complete"}',
    ]
    assert compare_lines(shown, stream)
    assert not compare_lines(shown, [*stream[:-1], 'data: {"type":"error","message":"x"}'])
    assert not compare_lines(shown, stream[1:])
    assert not compare_lines(shown, [*stream, "id: 1-2"])


def test_check_reports_status_media_type_and_body(doc: Path) -> None:
    first, stream, delete = steps(fenced_blocks(doc))[0]
    ok = Response([], 201, "application/json", '{"id": "7", "name": "a # not a comment"}', 0)
    assert check(first, ok) == []
    assert check(first, Response([], 422, "application/json", '{"error": {}}', 0)) == [
        "status 422, the doc shows 201",
        "the body: no field 'id' (it has ['error'])",
        "the body: no field 'name' (it has ['error'])",
    ]
    assert check(stream, Response([], 200, "application/json", "{}", 0))[0].startswith("Content-Type")
    assert check(delete, Response([], 204, "", "", 0)) == []
    assert check(delete, Response([], 200, "", "{}", 0)) == [
        "status 200, the doc shows 204",
        "a body the doc does not show: '{}'",
    ]
