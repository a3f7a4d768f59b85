"""The docs' shell walk-throughs as data: which fenced blocks run, the curl steps in them, the response
each step shows, and whether a real response matches what the doc shows.

Conventions (also explained in README.md, "Walk-throughs are tests"):
- Every fenced block whose language is a shell (```bash, ```sh, ...) runs, in order, in one shell per
  document, unless the line before its fence is ``<!-- docs-test: skip — the reason -->``.
- Each curl command is followed (after any other commands, such as ``echo "$CHAT"``) by the
  response it gets: ``# → STATUS`` and either JSON or a media type. Continuation lines start with
  ``#`` and three spaces. In JSON, ``"…"`` is any string (``…`` inside a string is any text), a bare
  ``…`` is any value, and a bare ``…`` where a key or a further list item would be means "and more";
  without it an object must have exactly the keys shown and a list exactly the items shown. After a
  media type, each line is a line of the body (blank lines ignored): ``…`` in a line is any text, a
  line that is only ``…`` any number of lines, and ``field: {json}`` lines compare as JSON.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BACKEND_DIR = Path(__file__).resolve().parents[2]
ROOT = BACKEND_DIR.parents[1]
SHELLS = {"bash", "sh", "shell", "console", "zsh"}
ELLIPSIS = "…"
_ANY = "\u2026any\u2026"  # what a bare … becomes in an expected value
_MORE = "\u2026more\u2026"  # ... and where a key or a list item would be
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_SKIP = re.compile(r"^\s*<!--\s*docs-test:\s*skip\b(?P<reason>.*?)-->\s*$")
_EXPECT = re.compile(r"^# → (?P<status>\d{3})(?:\s+(?P<rest>.*))?$")
_CURL = re.compile(r"(?:^|[;&|(`])\s*curl(?=\s)", re.MULTILINE)  # curl as a command, not an argument


def documents() -> list[Path]:
    """The documents whose shell blocks are walk-throughs."""
    found = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted(BACKEND_DIR.glob("*.md"))]
    return [path for path in found if path.is_file()]


def where(path: Path, line: int) -> str:
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return f"{name}:{line}"


@dataclass
class Block:
    path: Path
    line: int  # of the block's first line of content
    language: str
    lines: list[str]
    skip_reason: str | None  # None: the block runs

    @property
    def shell(self) -> bool:
        return self.language in SHELLS


def fenced_blocks(path: Path) -> list[Block]:
    blocks: list[Block] = []
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        opened = _FENCE.match(lines[index])
        if not opened:
            index += 1
            continue
        indent, fence = len(opened["indent"]), opened["fence"]
        previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        skip = _SKIP.match(previous)
        body: list[str] = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            text = lines[index]
            body.append(text[indent:] if text[:indent].strip() == "" else text.lstrip())
            index += 1
        start = index - len(body) + 1
        language = opened["info"].strip().split(" ")[0].lower()
        reason = skip["reason"].strip(" -—:") if skip else None
        blocks.append(Block(path, start, language, body, reason))
        index += 1
    return blocks


@dataclass
class Expectation:
    line: int
    status: int
    media_type: str | None = None  # for a body compared line by line
    body: list[str] = field(default_factory=list)  # the lines after "# → STATUS ..."
    json_text: str | None = None  # for a JSON body

    def expected_json(self) -> Any:
        assert self.json_text is not None
        return parse_expected(self.json_text)


@dataclass
class Step:
    """One curl command of a walk-through and the response the doc shows for it."""

    path: Path
    line: int
    command: str
    expectation: Expectation | None = None

    @property
    def where(self) -> str:
        return where(self.path, self.line)


def _command_ends(text: str) -> bool:
    """Whether ``text`` (lines joined so far) is a complete shell command: no open quote,
    parenthesis or trailing backslash."""
    quote: str | None = None
    depth = 0
    escaped = False
    for position, char in enumerate(text):
        if escaped:
            escaped = False
        elif quote == "'":
            quote = None if char == "'" else quote
        elif char == "\\":
            escaped = True
        elif quote == '"':
            quote = None if char == '"' else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or text[position - 1] in " \t\n"):
            newline = text.find("\n", position)
            if newline < 0:
                break
            return _command_ends(text[:position] + text[newline:])
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
    return quote is None and depth <= 0 and not escaped


def curl_count(command: str) -> int:
    unquoted = re.sub(r"'[^']*'", "''", command)
    unquoted = "\n".join(line.split(" #", 1)[0] for line in unquoted.splitlines())
    return len(_CURL.findall(unquoted))


def steps(blocks: list[Block]) -> tuple[list[Step], list[str]]:
    """The curl steps of the runnable blocks, in order, and the problems found in how they are
    written (a curl without its response, a response without a curl, ...)."""
    found: list[Step] = []
    problems: list[str] = []
    for block in blocks:
        if block.skip_reason is not None or not block.shell:
            continue
        pending: Step | None = None  # the latest curl step still waiting for its response
        index = 0
        while index < len(block.lines):
            line_no = block.line + index
            text = block.lines[index]
            stripped = text.strip()
            expected = _EXPECT.match(stripped)
            if expected:
                index += 1
                continuation = []
                while index < len(block.lines) and block.lines[index].strip().startswith("#   "):
                    continuation.append(block.lines[index].strip()[4:])
                    index += 1
                expectation = _expectation(line_no, expected, continuation)
                if pending is None:
                    problems.append(f"{where(block.path, line_no)}: a response shown without a curl step")
                else:
                    pending.expectation = expectation
                    pending = None
                continue
            if not stripped or stripped.startswith("#"):
                index += 1
                continue
            command = text
            index += 1
            while not _command_ends(command) and index < len(block.lines):
                command += "\n" + block.lines[index]
                index += 1
            count = curl_count(command)
            if count > 1:
                problems.append(f"{where(block.path, line_no)}: one curl per command, please")
            if count:
                if pending is not None:
                    problems.append(f"{pending.where}: this curl step shows no response (# → STATUS ...)")
                pending = Step(block.path, line_no, command)
                found.append(pending)
        if pending is not None:
            problems.append(f"{pending.where}: this curl step shows no response (# → STATUS ...)")
    return found, problems


def _expectation(line: int, match: re.Match[str], continuation: list[str]) -> Expectation:
    status = int(match["status"])
    rest = (match["rest"] or "").strip()
    if rest.startswith(("{", "[")):
        return Expectation(line, status, json_text="\n".join([rest, *continuation]))
    if rest:
        return Expectation(line, status, media_type=rest, body=continuation)
    return Expectation(line, status, body=continuation)


def parse_expected(text: str) -> Any:
    """JSON with the doc's ellipses: a bare … becomes a marker for "any value" or "and more"."""
    out: list[str] = []
    stack: list[str] = []
    in_string = escaped = False
    last = ""  # the last significant character outside strings
    for char in text:
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                last = '"'
            continue
        if char == '"':
            in_string = True
            out.append(char)
        elif char == ELLIPSIS:
            in_object = bool(stack) and stack[-1] == "{"
            if in_object and last in "{,":
                out.append(json.dumps(_MORE) + ": null")
            elif stack and stack[-1] == "[" and last in "[,":
                out.append(json.dumps(_MORE))
            else:
                out.append(json.dumps(_ANY))
            last = '"'
        else:
            if char in "{[":
                stack.append(char)
            elif char in "}]":
                stack.pop()
            out.append(char)
            if not char.isspace():
                last = char
    return json.loads("".join(out))


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(".+".join(re.escape(part) for part in text.split(ELLIPSIS)), re.DOTALL)


def compare(expected: Any, actual: Any, path: str = "") -> list[str]:
    """What differs between a value the doc shows and the real one (empty when it matches)."""
    at = path or "the body"
    if expected == _ANY:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{at}: expected an object, got {json.dumps(actual)[:200]}"]
        more = _MORE in expected
        problems = [
            f"{at}: no field {key!r} (it has {sorted(actual)})"
            for key in expected
            if key != _MORE and key not in actual
        ]
        if not more and (extra := sorted(set(actual) - set(expected))):
            problems.append(f"{at}: fields the doc does not show: {extra} (show them, or end with …)")
        for key, value in expected.items():
            if key != _MORE and key in actual:
                problems += compare(value, actual[key], f"{path}.{key}" if path else key)
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{at}: expected a list, got {json.dumps(actual)[:200]}"]
        more = bool(expected) and expected[-1] == _MORE
        items = expected[:-1] if more else expected
        if len(actual) < len(items) or (not more and len(actual) != len(items)):
            return [f"{at}: expected {len(items)}{'+' if more else ''} items, got {len(actual)}"]
        problems = []
        for index, item in enumerate(items):
            problems += compare(item, actual[index], f"{path}[{index}]")
        return problems
    if isinstance(expected, str) and ELLIPSIS in expected:
        if isinstance(actual, str) and _pattern(expected).fullmatch(actual):
            return []
        return [f"{at}: expected {expected!r}, got {json.dumps(actual)[:200]}"]
    if type(expected) is not type(actual) or expected != actual:
        return [f"{at}: expected {json.dumps(expected)}, got {json.dumps(actual)[:200]}"]
    return []


def _line_matches(pattern: str, actual: str) -> bool:
    name, sep, value = pattern.partition(": ")
    if sep and value.startswith(("{", "[")) and actual.startswith(name + ":"):
        try:
            return not compare(parse_expected(value), json.loads(actual[len(name) + 1 :]))
        except json.JSONDecodeError:
            return False
    return bool(_pattern(pattern).fullmatch(actual))


def compare_lines(expected: list[str], actual: list[str]) -> bool:
    """Whether the body's lines match the doc's (``…`` alone on a line: any number of lines)."""
    if not expected:
        return not actual
    if expected[0] == ELLIPSIS:
        return any(compare_lines(expected[1:], actual[skip:]) for skip in range(len(actual) + 1))
    return bool(actual) and _line_matches(expected[0], actual[0]) and compare_lines(expected[1:], actual[1:])


@dataclass
class Response:
    """What the recording curl saw: written as one JSON line per call."""

    argv: list[str]
    status: int
    content_type: str
    body: str
    exit_code: int


def check(step: Step, response: Response) -> list[str]:
    expectation = step.expectation
    assert expectation is not None
    problems = []
    if response.status != expectation.status:
        problems.append(f"status {response.status}, the doc shows {expectation.status}")
    if expectation.json_text is not None:
        try:
            actual = json.loads(response.body)
        except json.JSONDecodeError:
            problems.append(f"the body is not JSON: {response.body[:300]!r}")
        else:
            problems += compare(expectation.expected_json(), actual)
    elif expectation.media_type is not None:
        if not response.content_type.startswith(expectation.media_type):
            problems.append(f"Content-Type {response.content_type!r}, the doc shows {expectation.media_type}")
        lines = [line for line in response.body.splitlines() if line.strip()]
        shown = [line for line in expectation.body if line.strip()]
        if not compare_lines(shown, lines):
            problems.append("the body does not match the lines shown:\n  " + "\n  ".join(lines[:40]))
    elif response.body.strip():
        problems.append(f"a body the doc does not show: {response.body[:300]!r}")
    return problems
