"""The dashboard-body rules (tests/dashboard_rules.py) accept the documentation's own examples and catch breakage.

The first body is the example of "Dashboard Body Structure and Syntax" (CloudWatch API Reference), the second
widget's search expression the example of "CloudWatch search expression syntax": inputs written by AWS, which a
reading of the rules that is too strict would refuse.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.dashboard_rules import SearchedMetrics, dashboard_body_problems, named_metrics, searched_metrics

DOCUMENTED_EXAMPLE: dict[str, Any] = {
    "start": "-PT6H",
    "periodOverride": "inherit",
    "widgets": [
        {
            "type": "metric",
            "x": 0,
            "y": 0,
            "width": 12,
            "height": 6,
            "properties": {
                "metrics": [["AWS/EC2", "CPUUtilization", "InstanceId", "i-012345"]],
                "period": 300,
                "stat": "Average",
                "region": "us-east-1",
                "title": "EC2 Instance CPU",
                "liveData": False,
                "legend": {"position": "right"},
            },
        },
        {"type": "text", "x": 0, "y": 7, "width": 3, "height": 3, "properties": {"markdown": "Hello world"}},
        {
            "type": "metric",
            "x": 12,
            "y": 0,
            "width": 12,
            "height": 6,
            "properties": {
                "region": "us-east-1",
                "metrics": [
                    [{"expression": "SEARCH('{AWS/EC2,InstanceId} MetricName=\"CPUUtilization\"', 'Average')"}]
                ],
            },
        },
    ],
}


def test_the_documentations_examples_follow_the_rules() -> None:
    assert dashboard_body_problems(DOCUMENTED_EXAMPLE) == []
    (metric,) = named_metrics(DOCUMENTED_EXAMPLE)
    assert (metric.namespace, metric.name, metric.dimensions) == (
        "AWS/EC2",
        "CPUUtilization",
        frozenset({("InstanceId", "i-012345")}),
    )
    assert searched_metrics(DOCUMENTED_EXAMPLE) == [
        SearchedMetrics("AWS/EC2", frozenset({"InstanceId"}), "CPUUtilization")
    ]


def broken(path: str, value: Any) -> dict[str, Any]:
    """The documented example with one value at ``path`` (``widgets.0.properties.region``) replaced or removed."""
    body = copy.deepcopy(DOCUMENTED_EXAMPLE)
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is None:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("widgets", None, "widgets array"),
        ("widgets.0.properties.region", None, "names its region"),
        ("widgets.0.type", "graph", "type is one of"),
        ("widgets.0.width", 25, "width is an integer from 1 to 24"),
        ("widgets.0.x", 18, "past the grid's 24 columns"),
        ("widgets.0.properties.stat", "Mean", "not a CloudWatch statistic"),
        ("widgets.0.properties.period", 90, "multiple of 60"),
        ("widgets.0.properties.view", "line", "view is one of"),
        ("widgets.0.properties.metrics.0", ["AWS/EC2", "CPUUtilization", "InstanceId"], "dimension name and value"),
        ("widgets.0.properties.metrics.0", ["AWS/EC2", "CPUUtilization", {"colour": "#fff"}], "unknown rendering"),
        ("widgets.1.properties.markdown", None, "has markdown"),
        ("periodOverride", "always", "auto or inherit"),
    ],
)
def test_a_body_breaking_a_documented_rule_is_caught(path: str, value: Any, problem: str) -> None:
    problems = dashboard_body_problems(broken(path, value))

    assert any(problem in found for found in problems), problems


def test_an_alarm_widget_lists_alarm_arns_only() -> None:
    body = {"widgets": [{"type": "alarm", "properties": {"alarms": ["arn:aws:sqs:eu-west-3:123456789012:queue"]}}]}

    assert dashboard_body_problems(body) == ["widget 0: 'arn:aws:sqs:eu-west-3:123456789012:queue' is not an alarm ARN"]
