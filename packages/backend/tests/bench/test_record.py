"""docs/benchmarks.md stays a generated record: every section stamped, none edited by hand, runs
on a dirty tree refused or named by the hash of their diff (fast: no benchmark runs here)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bench import __main__ as runner
from bench import report

RESTORED_RUNS = [
    "2026-11-26 00:54",
    "2026-11-26 01:30",
    "2026-11-26 01:44",
    "2026-11-26 01:46",
    "2026-11-26 01:49",
    "2026-11-26 01:52",
    "2026-11-26 01:54",
    "2026-11-26 01:54",
    "2026-11-26 02:09",
    "2026-11-26 02:12",
    "2026-11-26 02:14",
    "2026-11-26 02:18",
    "2026-11-26 02:21",
    "2026-11-26 02:38",
    "2026-11-26 02:40",
    "2026-11-26 02:41",
    "2026-11-26 02:45",
    "2026-11-26 02:46",
]


# --- the committed record ---------------------------------------------------------------------


def test_the_committed_record_is_well_formed() -> None:
    assert report.check_files() == []


def test_every_section_has_commit_command_and_load() -> None:
    _, sections = report.parse(report.DOC.read_text())
    for section in sections:
        for key in ("commit", "command", "load", "run", "bench", "digest"):
            assert section.fields.get(key, "").strip(), f"{section.title} @ line {section.line}: no {key}"


def test_history_is_restored_whole_and_in_order() -> None:
    _, sections = report.parse(report.DOC.read_text())
    restored = [s for s in sections if "record" in s.fields]
    assert [s.fields["run"].removesuffix(" UTC") for s in restored] == RESTORED_RUNS
    assert sections[: len(restored)] == restored  # the restored history comes first
    withdrawn = {s.fields["run"] for s in restored if s.fields.get("status", "").startswith("withdrawn")}
    assert "2026-11-26 02:18 UTC" in withdrawn and "2026-11-26 00:54 UTC" in withdrawn


def test_figures_no_committed_bench_produced_live_only_in_the_notes() -> None:
    record, notes = report.DOC.read_text(), report.NOTES.read_text()
    for phrase in ("60.9 / 74.6 → 37.0 / 46.2", "uncommitted at this commit", "Notes on this run"):
        assert phrase not in record
        assert phrase in notes


# --- the check fails on drift ---------------------------------------------------------------------

FIELDS = {
    "bench": "`auth`",
    "run": "2026-12-01 10:00:00 UTC, 120 s",
    "commit": f"`{'a' * 40}` (clean tree)",
    "command": "`cd packages/backend && uv run python -m bench auth`",
    "machine": "x86_64, 2 cores",
    "load": "1-min load average 0.50 before, 1.50 after, mean 1.00 / max 1.60 during; 2 cores",
}
BODY = "| endpoint | req/s |\n|---|---:|\n| `GET /` | 1200 |\n"


def record(*sections: str) -> str:
    return report.HEADER + "".join("\n" + s for s in sections)


def test_a_generated_section_passes() -> None:
    assert report.check(record(report.render_section("auth: x", FIELDS, BODY))) == []


@pytest.mark.parametrize("missing", ["commit", "command", "load"])
def test_a_section_without_its_stamp_fails(missing: str) -> None:
    fields = {k: v for k, v in FIELDS.items() if k != missing}
    problems = report.check(record(report.render_section("auth: x", fields, BODY)))
    assert any(f"stamp lacks {missing}" in p for p in problems), problems


def test_a_section_edited_after_generation_fails() -> None:
    edited = report.render_section("auth: x", FIELDS, BODY).replace("| 1200 |", "| 1500 |")
    problems = report.check(record(edited))
    assert any("edited after it was generated" in p for p in problems), problems


def test_a_hand_written_section_without_a_digest_fails() -> None:
    problems = report.check(record("## my run\n\nI measured 1500 req/s.\n"))
    assert any("stamp lacks" in p for p in problems), problems


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("commit", "`abc1234`", "full hash"),
        ("commit", f"`{'a' * 40}` (tree state not recorded)", "full hash"),
        ("load", "not recorded", "load average before and after"),
        ("command", "`wrk -c32 http://localhost`", "python -m bench"),
    ],
)
def test_a_new_section_needs_a_real_stamp(field: str, value: str, expected: str) -> None:
    problems = report.check(record(report.render_section("auth: x", {**FIELDS, field: value}, BODY)))
    assert any(expected in p for p in problems), problems


def test_a_withdrawn_section_must_point_to_its_notes_entry() -> None:
    fields = {**FIELDS, "record": "restored", "status": "withdrawn: uncommitted code"}
    linked = report.render_section("auth: x", fields, "see [notes](benchmarks-notes.md#withdrawn-x)")
    assert report.check(record(linked), notes='<a id="withdrawn-x"></a>') == []
    assert any("no notes entry" in p for p in report.check(record(linked), notes="(empty)"))
    unlinked = report.render_section("auth: x", fields, "gone")
    assert any("link to its entry" in p for p in report.check(record(unlinked), notes=""))


def test_a_record_without_its_header_fails() -> None:
    section = report.render_section("auth: x", FIELDS, BODY)
    assert any("header" in p for p in report.check("# Benchmarks\n\n" + section))


def test_bodies_cannot_open_sections_of_their_own() -> None:
    with pytest.raises(report.RecordError):
        report.render_section("auth: x", FIELDS, "## not a section\n")


# --- recording: commit, dirty trees, command -----------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(  # noqa: S603
        ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def recorded(repo: Path) -> str:
    return (repo / report.RECORD_PATH).read_text()


def test_a_clean_run_appends_a_stamped_section(repo: Path) -> None:
    with report.run("auth", "cd packages/backend && uv run python -m bench auth", repo=repo):
        report.append("auth: x", BODY)
    text = recorded(repo)
    assert report.check(text) == []
    _, (section,) = report.parse(text)
    assert section.fields["commit"] == f"`{git(repo, 'rev-parse', 'HEAD')}` (clean tree)"
    assert re.search(r"load average \d+\.\d+ before, \d+\.\d+ after", section.fields["load"])
    # The record itself does not make the tree dirty: a second benchmark may follow.
    with report.run("auth", "cd packages/backend && uv run python -m bench auth", repo=repo):
        report.append("auth: y", BODY)
    assert len(report.parse(recorded(repo))[1]) == 2


def test_a_dirty_tree_is_refused(repo: Path) -> None:
    (repo / "code.py").write_text("x = 2\n")
    with (
        pytest.raises(report.RecordError, match="dirty tree"),
        report.run("auth", "python -m bench", repo=repo),
    ):
        pass
    (repo / "code.py").write_text("x = 1\n")
    (repo / "new.py").write_text("y = 1\n")  # untracked files count too
    with (
        pytest.raises(report.RecordError, match=r"new\.py"),
        report.run("auth", "python -m bench", repo=repo),
    ):
        pass
    assert not (repo / report.RECORD_PATH).exists()


def test_allow_dirty_records_the_hash_of_the_diff(repo: Path) -> None:
    (repo / "code.py").write_text("x = 2\n")
    with report.run("auth", "uv run python -m bench --allow-dirty auth", allow_dirty=True, repo=repo):
        report.append("auth: x", BODY)
    first = report.parse(recorded(repo))[1][0].fields["commit"]
    assert "uncommitted changes in 1 file(s)" in first
    assert report.check(recorded(repo)) == []
    (repo / "code.py").write_text("x = 3\n")  # other code, other hash
    with report.run("auth", "uv run python -m bench --allow-dirty auth", allow_dirty=True, repo=repo):
        report.append("auth: x", BODY)
    second = report.parse(recorded(repo))[1][1].fields["commit"]
    assert re.search(r"sha256:[0-9a-f]{64}", first) and first != second


def test_a_change_during_the_run_is_not_recorded(repo: Path) -> None:
    with (
        pytest.raises(report.RecordError, match="changed while") as refused,
        report.run("auth", "uv run python -m bench auth", repo=repo),
    ):
        (repo / "code.py").write_text("x = 2\n")
        report.append("auth: x", BODY)
    assert not (repo / report.RECORD_PATH).exists()
    kept = Path(str(refused.value).rsplit(" ", 1)[1])  # the results survive in a scratch file
    assert kept.read_text() == BODY
    kept.unlink()


def test_a_hand_edited_record_is_refused_before_the_run(repo: Path) -> None:
    with report.run("auth", "uv run python -m bench auth", repo=repo):
        report.append("auth: x", BODY)
    path = repo / report.RECORD_PATH
    path.write_text(path.read_text().replace("| 1200 |", "| 1500 |"))
    with pytest.raises(report.RecordError, match="malformed"), report.run("auth", "x", repo=repo):
        pass


def test_append_outside_a_run_is_refused() -> None:
    with pytest.raises(report.RecordError, match="scripts/bench"):
        report.append("auth: x", BODY)


def test_the_command_names_the_benchmark_knobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_BENCH_SECONDS", "3")
    monkeypatch.setenv("MEMORY_LATENCY_TOTAL", "1000")
    monkeypatch.setenv("UNRELATED_SETTING", "x")
    command = runner.command_line(["--allow-dirty", "auth", "memory_latency"], ["auth", "memory_latency"])
    assert command == (
        "cd packages/backend && AUTH_BENCH_SECONDS=3 MEMORY_LATENCY_TOTAL=1000 "
        "uv run python -m bench --allow-dirty auth memory_latency"
    )
