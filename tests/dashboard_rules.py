"""CloudWatch's documented rules for a dashboard body, and the metrics a body names.

From "Dashboard Body Structure and Syntax" (CloudWatch API Reference,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html):
the body is a JSON object with a ``widgets`` array of 0 to 500 widgets; a widget has a ``type`` (metric, text,
log, alarm, explorer), a place on a 24-column grid (``x`` 0-23, ``width`` 1-24, ``height`` 1-1000, ``y`` from 0)
and ``properties``; a metric widget names its ``region`` and a ``metrics`` array whose every item is an array
``[Namespace, MetricName, DimensionName, DimensionValue, ..., {rendering properties}]`` or ``[{"expression": ...}]``
(at most 500 per widget); an alarm widget lists up to 100 alarm ARNs; a text widget has ``markdown``. Metric search
expressions follow "CloudWatch search expression syntax"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/search-expression-syntax.html).

What these rules cannot show: CloudWatch's own PutDashboard validation (moto's accepts any JSON) and how the
console draws the widgets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

WIDGET_TYPES = {"metric", "text", "log", "alarm", "explorer"}
VIEWS = {"timeSeries", "singleValue", "gauge", "bar", "pie", "table"}
RENDERING_PROPERTIES = {
    "accountId",
    "color",
    "expression",
    "id",
    "label",
    "period",
    "region",
    "stat",
    "visible",
    "yAxis",
}
# CloudWatch statistics: the five basic ones and the extended ones (percentiles, trimmed means, ...).
_STATISTIC = re.compile(
    r"SampleCount|Average|Sum|Minimum|Maximum|(p|tm|wm|tc|ts)\d{1,2}(\.\d+)?|IQM|(PR|TM|WM|TC|TS)\(.+\)"
)
_METRIC_ID = re.compile(r"[a-z][A-Za-z0-9_]*")
_ALARM_ARN = re.compile(r"arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+")
_SEARCH = re.compile(r"SEARCH\(\s*'\s*\{(?P<schema>[^}]*)\}(?P<terms>[^']*)'\s*,\s*'(?P<stat>[^']+)'(\s*,\s*\d+)?\s*\)")


@dataclass(frozen=True)
class NamedMetric:
    """One metric a widget draws: its namespace, name and exact dimension set (names to values)."""

    namespace: str
    name: str
    dimensions: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class SearchedMetrics:
    """A SEARCH expression's schema: every metric of ``namespace`` with exactly ``dimension_names`` (and name)."""

    namespace: str
    dimension_names: frozenset[str]
    metric_name: str | None


def dashboard_body_problems(body: Any) -> list[str]:
    """Every way ``body`` breaks the documented structure; [] when it follows it."""
    if not isinstance(body, dict) or not isinstance(body.get("widgets"), list):
        return ["the body is a JSON object with a widgets array"]
    problems = [] if len(body["widgets"]) <= 500 else ["more than 500 widgets"]
    if body.get("periodOverride", "auto") not in {"auto", "inherit"}:
        problems.append("periodOverride is auto or inherit")
    for index, widget in enumerate(body["widgets"]):
        problems += [f"widget {index}: {problem}" for problem in _widget_problems(widget)]
    return problems


def _widget_problems(widget: Any) -> Iterator[str]:
    if not isinstance(widget, dict) or widget.get("type") not in WIDGET_TYPES:
        yield f"type is one of {sorted(WIDGET_TYPES)}"
        return
    for name, low, high in (("x", 0, 23), ("y", 0, None), ("width", 1, 24), ("height", 1, 1000)):
        value = widget.get(name)
        if value is not None and not (isinstance(value, int) and value >= low and (high is None or value <= high)):
            yield f"{name} is an integer from {low}" + (f" to {high}" if high is not None else "")
    if widget.get("x", 0) + widget.get("width", 6) > 24:
        yield "it runs past the grid's 24 columns"
    properties = widget.get("properties")
    if not isinstance(properties, dict):
        yield "properties is an object"
        return
    checks = {"metric": _metric_widget_problems, "alarm": _alarm_widget_problems, "text": _text_widget_problems}
    yield from checks.get(widget["type"], lambda _: iter(()))(properties)


def _metric_widget_problems(properties: Mapping[str, Any]) -> Iterator[str]:
    if not isinstance(properties.get("region"), str) or not properties["region"]:
        yield "a metric widget names its region"
    if properties.get("view", "timeSeries") not in VIEWS:
        yield f"view is one of {sorted(VIEWS)}"
    if "stat" in properties and not _STATISTIC.fullmatch(str(properties["stat"])):
        yield f"stat {properties['stat']!r} is not a CloudWatch statistic"
    if "period" in properties and not _valid_period(properties["period"]):
        yield f"period {properties['period']!r} is 1, 5, 10, 30 or a multiple of 60"
    metrics = properties.get("metrics")
    if not isinstance(metrics, list) or not 1 <= len(metrics) <= 500:
        yield "metrics is an array of 1 to 500 items"
        return
    for index, item in enumerate(metrics):
        yield from (f"metric {index}: {problem}" for problem in _metric_item_problems(item))


def _valid_period(period: Any) -> bool:
    return isinstance(period, int) and (period in {1, 5, 10, 30} or (period > 0 and period % 60 == 0))


def _metric_item_problems(item: Any) -> Iterator[str]:
    if not isinstance(item, list) or not item:
        yield "an item is a non-empty array"
        return
    rendering = item[-1] if isinstance(item[-1], dict) else {}
    names = item[:-1] if isinstance(item[-1], dict) else item
    unknown = set(rendering) - RENDERING_PROPERTIES
    if unknown:
        yield f"unknown rendering properties {sorted(unknown)}"
    if "stat" in rendering and not _STATISTIC.fullmatch(str(rendering["stat"])):
        yield f"stat {rendering['stat']!r} is not a CloudWatch statistic"
    if "id" in rendering and not _METRIC_ID.fullmatch(str(rendering["id"])):
        yield f"id {rendering['id']!r} starts with a lower-case letter, then letters, digits, _"
    if rendering.get("yAxis", "left") not in {"left", "right"}:
        yield "yAxis is left or right"
    if not names:
        if not isinstance(rendering.get("expression"), str):
            yield "an item without a metric is an expression"
        return
    if not all(isinstance(part, str) and part for part in names) or len(names) % 2:
        yield "a metric is Namespace, MetricName, then dimension name and value pairs, all strings"
    elif len(names) // 2 - 1 > 30:
        yield "at most 30 dimensions"


def _alarm_widget_problems(properties: Mapping[str, Any]) -> Iterator[str]:
    alarms = properties.get("alarms")
    if not isinstance(alarms, list) or not 1 <= len(alarms) <= 100:
        yield "alarms is an array of 1 to 100 alarm ARNs"
        return
    yield from (f"{alarm!r} is not an alarm ARN" for alarm in alarms if not _ALARM_ARN.fullmatch(str(alarm)))


def _text_widget_problems(properties: Mapping[str, Any]) -> Iterator[str]:
    if not isinstance(properties.get("markdown"), str):
        yield "a text widget has markdown"


def named_metrics(body: Mapping[str, Any]) -> list[NamedMetric]:
    """Every metric the body's metric widgets name explicitly (expressions aside)."""
    found = []
    for widget in _metric_widgets(body):
        for item in widget["properties"]["metrics"]:
            names = item[:-1] if isinstance(item[-1], dict) else item
            if "." in names or "..." in names:
                raise ValueError(f"this reader does not expand the '.' and '...' shorthands: {item}")
            if names:
                pairs = zip(names[2::2], names[3::2], strict=True)
                found.append(NamedMetric(names[0], names[1], frozenset(pairs)))
    return found


def searched_metrics(body: Mapping[str, Any]) -> list[SearchedMetrics]:
    """The schema of every SEARCH expression in the body's metric widgets; ValueError on one this cannot read."""
    found = []
    for widget in _metric_widgets(body):
        for item in widget["properties"]["metrics"]:
            expression = item[-1].get("expression") if isinstance(item[-1], dict) else None
            if expression is None or "SEARCH(" not in expression:
                continue
            match = _SEARCH.fullmatch(expression.strip())
            if match is None:
                raise ValueError(f"unreadable search expression {expression!r}")
            namespace, *dimension_names = (part.strip().strip('"') for part in match["schema"].split(","))
            metric_name = re.search(r'MetricName\s*=\s*"([^"]+)"', match["terms"])
            found.append(
                SearchedMetrics(namespace, frozenset(dimension_names), metric_name[1] if metric_name else None)
            )
    return found


def alarm_arns(body: Mapping[str, Any]) -> list[str]:
    return [arn for widget in body["widgets"] if widget["type"] == "alarm" for arn in widget["properties"]["alarms"]]


def _metric_widgets(body: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    return (widget for widget in body["widgets"] if widget["type"] == "metric")
