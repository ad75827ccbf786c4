"""Observability wiring: one Logger/Tracer/Metrics, configured by the template's POWERTOOLS_* variables."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lakepipe import observability
from lakepipe.observability import logger, metrics, tracer


def test_one_instance_of_each_is_shared() -> None:
    from lakepipe.observability import logger as again  # noqa: PLC0415

    assert again is logger
    assert observability.tracer is tracer
    assert observability.metrics is metrics


def test_logger_writes_structured_json_with_service_name(caplog: pytest.LogCaptureFixture) -> None:
    logger.info("converted", extra={"rows_out": 3})

    record = json.loads(logger.registered_formatter.format(caplog.records[-1]))
    assert record["message"] == "converted"
    assert record["service"] == "lakepipe"
    assert record["rows_out"] == 3


def test_metrics_flush_in_embedded_metric_format(capsys: pytest.CaptureFixture[str]) -> None:
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: object) -> None:
        metrics.add_metric(name="RowsOut", unit="Count", value=7)

    handler({}, None)

    emf = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "lakepipe-test"
    assert directive["Metrics"] == [{"Name": "RowsOut", "Unit": "Count"}]
    assert emf["RowsOut"] == [7.0] or emf["RowsOut"] == 7.0


def test_template_globals_configure_powertools(translated_template: dict[str, Any]) -> None:
    functions = [s for s in translated_template["Resources"].values() if s["Type"] == "AWS::Lambda::Function"]
    assert functions
    for function in functions:
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["POWERTOOLS_SERVICE_NAME"] == "lakepipe"
        assert variables["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == {"Fn::Sub": "lakepipe-${Stage}"}
