"""tools/athena_rules.py on state machine definitions: every query they send, with its ExecutionParameters as
moto's Step Functions interpreter evaluates them (run as `make statelint` runs it, in its own process, because the
evaluation uses an in-process moto that must not share this test process's moto server).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tools.sync_sql import DEFINITION_PATH

pytestmark = pytest.mark.integration

BEFORE_ATHENA_RULES = REPO_ROOT / "tests/fixtures/sql/validate_weather_run_before_athena_rules.sql"


def athena_rules(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools/athena_rules.py"), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO_ROOT,
    )


def write_definition(tmp_path: Path, change: dict[str, Any]) -> Path:
    definition = json.loads(DEFINITION_PATH.read_text())
    definition["States"]["StartValidationQuery"]["Parameters"].update(change)
    path = tmp_path / "weather_pipeline.asl.json"
    path.write_text(json.dumps(definition))
    return path


def test_the_definition_and_the_sql_files_follow_athenas_rules() -> None:
    # Given every SQL file and the definition (its validation query and the three views of the PublishViews Map)
    result = athena_rules()

    # Then nothing is refused: 5 SQL files (the validation query, three views, the quarantine's sample query) + 4
    # queries sent by the state machine
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "athena-rules: 9 quer(ies) in 6 file(s) follow Athena's rules"


def test_unquoted_window_dates_are_refused_as_athena_would_read_them(tmp_path: Path) -> None:
    # Given the validation state sending the manifest's dates as they are, without quotes
    path = write_definition(
        tmp_path,
        {
            "ExecutionParameters.$": "States.Array($.manifest.window_start, $.manifest.window_end, "
            "$.manifest.window_start, $.manifest.window_end)"
        },
    )

    result = athena_rules(path)

    # Then each is refused: Athena would splice in the arithmetic 2026 - 11 - 20
    assert result.returncode == 1
    literal_problems = [line for line in result.stderr.splitlines() if "[parameter-literal]" in line]
    assert len(literal_problems) == 4
    assert "a string must be quoted: '2026-11-20'" in literal_problems[0]


def test_the_definition_before_this_check_is_refused(tmp_path: Path) -> None:
    # Given the definition as it was: the old validation query, with its two quoted parameters
    quote = "$.validation.sql_string_quote"
    start, end = (
        f"States.Format('{{}}{{}}{{}}', {quote}, $.manifest.{name}, {quote})" for name in ("window_start", "window_end")
    )
    path = write_definition(
        tmp_path,
        {
            "QueryString": BEFORE_ATHENA_RULES.read_text().strip(),
            "ExecutionParameters.$": f"States.Array({start}, {end})",
        },
    )

    result = athena_rules(path)

    # Then its parameters are well quoted and counted, but stand in a SELECT list
    assert result.returncode == 1
    problems = [line.split("] ")[0].split("[")[-1] for line in result.stderr.splitlines() if "#" in line]
    assert problems == ["parameter-placement", "parameter-placement"]
