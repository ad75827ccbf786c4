"""Runs an Amazon States Language definition on this machine, with local stand-ins for its service tasks.

The demo walks statemachine/weather_pipeline.asl.json itself — its states, paths, Choice rules, Catch routes —
rather than a hand-written sequence, so the order, the branches and the failure route it shows are the deployed
ones. Each Task's resource maps to a local implementation that answers in the shape the AWS integration returns
(a Lambda invoke's ``Payload``, Glue's ``JobRunState``, Athena's ``ResultSet``), so ResultSelectors and Choice
rules read it unchanged.

Covered: Task (Parameters, ResultSelector, ResultPath, Catch; Retry is not needed locally), Pass, Choice
(String/Numeric/Boolean comparisons, IsPresent, IsNull, And/Or/Not), Wait (not slept), Map (inline: ItemsPath,
ItemSelector with ``$$.Map.Item``, ItemProcessor, ResultPath, Catch; iterations run one after another), Succeed,
Fail (Error/Cause or ErrorPath/CausePath); the intrinsics States.Format, States.Array, States.Hash and
States.MathAdd. That is the subset lakepipe's definition uses; anything else raises, so a definition that outgrows
it fails loudly here.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

TaskImplementation = Callable[[dict[str, Any]], Any]

_MISSING = object()
_PATH_TOKEN = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]")


class StatesError(Exception):
    """A task or state failure, with the Error name and Cause that Catch rules and Fail states see."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


def read_path(document: Any, path: str) -> Any:
    """The value at a simple JSONPath (``$``, ``$.a.b``, ``$.a[1].b``), or ``_MISSING``."""
    if path == "$":
        return document
    if not path.startswith("$"):
        raise ValueError(f"unsupported path {path!r}")
    value = document
    for name, index in _PATH_TOKEN.findall(path[1:]):
        if name:
            if not isinstance(value, dict) or name not in value:
                return _MISSING
            value = value[name]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
    return value


def write_path(document: Any, path: str | None, value: Any) -> Any:
    """``document`` with ``value`` placed at ResultPath ``path`` (``None`` discards, ``$`` replaces)."""
    if path is None:
        return document
    if path == "$":
        return value
    result = copy.deepcopy(document)
    names = [name for name, _ in _PATH_TOKEN.findall(path[1:])]
    target = result
    for name in names[:-1]:
        target = target.setdefault(name, {})
    target[names[-1]] = value
    return result


@dataclass
class _Call:
    name: str
    arguments: list[Any]


def _parse_intrinsic(text: str) -> _Call:
    """Parse ``States.X(arg, ...)`` where an argument is a '…' string, a number, a path or a nested call."""
    position = 0

    def skip_spaces() -> None:
        nonlocal position
        while position < len(text) and text[position].isspace():
            position += 1

    def argument() -> Any:
        nonlocal position
        skip_spaces()
        if text[position] == "'":
            end = position + 1
            chars: list[str] = []
            while text[end] != "'":
                if text[end] == "\\":
                    end += 1
                chars.append(text[end])
                end += 1
            position = end + 1
            return "".join(chars)
        match = re.compile(r"States\.\w+|\$\$?[\w.\[\]-]*|-?\d+(\.\d+)?").match(text, position)
        if match is None:
            raise ValueError(f"cannot parse intrinsic argument at {text[position:]!r}")
        token = match.group(0)
        position = match.end()
        if token.startswith("States."):
            return call(token)
        if token.startswith("$"):
            return ("path", token)
        return float(token) if "." in token else int(token)

    def call(name: str) -> _Call:
        nonlocal position
        skip_spaces()
        if text[position] != "(":
            raise ValueError(f"expected '(' after {name}")
        position += 1
        arguments: list[Any] = []
        skip_spaces()
        while text[position] != ")":
            arguments.append(argument())
            skip_spaces()
            if text[position] == ",":
                position += 1
        position += 1
        return _Call(name, arguments)

    head = re.compile(r"States\.\w+").match(text)
    if head is None:
        raise ValueError(f"not an intrinsic function: {text!r}")
    position = head.end()
    return call(head.group(0))


@dataclass
class Execution:
    """One local execution: the state data, the context object, and the states visited."""

    name: str
    input: dict[str, Any]
    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    visited: list[tuple[str, str, float]] = field(default_factory=list)  # (state, outcome, seconds)
    status: str = "RUNNING"
    output: Any = None
    error: str | None = None
    cause: str | None = None
    # Context object fields beyond Execution: ``Map`` inside a Map iteration.
    extra_context: dict[str, Any] = field(default_factory=dict)

    @property
    def context(self) -> dict[str, Any]:
        return {
            "Execution": {
                "Id": f"local:{self.name}",
                "Name": self.name,
                "StartTime": self.started_at,
                "Input": self.input,
            },
            **self.extra_context,
        }


class LocalStateMachine:
    """An ASL definition with local task implementations keyed by Resource ARN."""

    def __init__(self, definition: Mapping[str, Any], tasks: Mapping[str, TaskImplementation]) -> None:
        self.definition = definition
        self.tasks = tasks

    def run(
        self,
        name: str,
        execution_input: Any,
        on_state: Callable[[str, str], None] | None = None,
        *,
        parent: Execution | None = None,
        extra_context: dict[str, Any] | None = None,
    ) -> Execution:
        """Run from StartAt to a Succeed, Fail or End state. ``parent`` makes this a Map iteration: the context
        object is the parent execution's, plus ``extra_context``."""
        execution = Execution(name=name, input=execution_input, extra_context=extra_context or {})
        if parent is not None:
            execution.input, execution.started_at = parent.input, parent.started_at
        data: Any = copy.deepcopy(execution_input)
        state_name = self.definition["StartAt"]
        while True:
            state = self.definition["States"][state_name]
            started = time.monotonic()
            kind = state["Type"]
            try:
                next_name, data = self._step(state, data, execution)
                outcome = "ok"
            except StatesError as failure:
                handler = next(
                    (rule for rule in state.get("Catch", []) if _catches(rule["ErrorEquals"], failure.error)), None
                )
                if handler is None:
                    execution.status, execution.error, execution.cause = "FAILED", failure.error, failure.cause
                    execution.visited.append((state_name, f"failed: {failure.error}", time.monotonic() - started))
                    return execution
                data = write_path(
                    data, handler.get("ResultPath", "$"), {"Error": failure.error, "Cause": failure.cause}
                )
                next_name, outcome = handler["Next"], f"caught {failure.error}"
            seconds = time.monotonic() - started
            if kind == "Choice":
                outcome = f"→ {next_name}"
            execution.visited.append((state_name, outcome, seconds))
            if on_state is not None:
                on_state(state_name, outcome)
            if kind == "Succeed":
                execution.status, execution.output = "SUCCEEDED", data
                return execution
            if kind == "Fail":
                execution.status = "FAILED"
                execution.error = self._fail_field(state, data, "Error")
                execution.cause = self._fail_field(state, data, "Cause")
                return execution
            if state.get("End") is True:
                execution.status, execution.output = "SUCCEEDED", data
                return execution
            state_name = next_name

    def _step(self, state: Mapping[str, Any], data: Any, execution: Execution) -> tuple[str, Any]:
        kind = state["Type"]
        if kind in {"Succeed", "Fail"}:
            return "", data
        if kind == "Choice":
            return self._choose(state, data), data
        if kind == "Wait":
            return state["Next"], data
        if kind == "Pass":
            if "Parameters" in state:
                result = self._resolve(state["Parameters"], data, execution)
            else:
                result = state.get("Result", data)
        elif kind == "Map":
            result = self._map(state, data, execution)
        elif kind == "Task":
            result = self._task(state, data, execution)
        else:
            raise ValueError(f"state type {kind} is not supported locally")
        return state.get("Next", ""), write_path(data, state.get("ResultPath", "$"), result)

    def _choose(self, state: Mapping[str, Any], data: Any) -> str:
        for rule in state["Choices"]:
            if self._matches(rule, data):
                return str(rule["Next"])
        if "Default" not in state:
            raise StatesError("States.NoChoiceMatched", "no Choice rule matched and there is no Default")
        return str(state["Default"])

    def _task(self, state: Mapping[str, Any], data: Any, execution: Execution) -> Any:
        resource = state["Resource"]
        if resource not in self.tasks:
            raise ValueError(f"no local implementation for {resource}")
        result = self.tasks[resource](self._resolve(state.get("Parameters", {}), data, execution))
        if "ResultSelector" in state:
            result = self._resolve(state["ResultSelector"], result, execution)
        return result

    def _map(self, state: Mapping[str, Any], data: Any, execution: Execution) -> list[Any]:
        """An inline Map: each item through the ItemProcessor, in order; the first failed iteration fails it."""
        items = read_path(data, state.get("ItemsPath", "$"))
        if not isinstance(items, list):
            raise StatesError("States.Runtime", f"the Map's ItemsPath {state.get('ItemsPath', '$')} is not an array")
        processor = state.get("ItemProcessor") or state["Iterator"]
        iterations = LocalStateMachine(processor, self.tasks)
        results: list[Any] = []
        for index, item in enumerate(items):
            context = {"Map": {"Item": {"Index": index, "Value": item}}}
            item_context = Execution(name=execution.name, input=execution.input, extra_context=context)
            selector = state.get("ItemSelector", state.get("Parameters"))
            iteration_input = item if selector is None else self._resolve(selector, data, item_context)
            iteration = iterations.run(execution.name, iteration_input, parent=execution, extra_context=context)
            execution.visited += [
                (f"{name}[{index}]", outcome, seconds) for name, outcome, seconds in iteration.visited
            ]
            if iteration.status != "SUCCEEDED":
                raise StatesError(iteration.error or "States.TaskFailed", iteration.cause or "")
            results.append(iteration.output)
        return results

    def _resolve(self, template: Any, data: Any, execution: Execution) -> Any:
        """Parameters/ResultSelector: keys ending in ``.$`` take a path or intrinsic; the rest are literal."""
        if isinstance(template, list):
            return [self._resolve(item, data, execution) for item in template]
        if not isinstance(template, dict):
            return template
        resolved: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                resolved[key[:-2]] = self._value_of(value, data, execution)
            else:
                resolved[key] = self._resolve(value, data, execution)
        return resolved

    def _value_of(self, expression: str, data: Any, execution: Execution) -> Any:
        if expression.startswith("States."):
            return self._evaluate(_parse_intrinsic(expression), data, execution)
        source, path = (execution.context, "$" + expression[2:]) if expression.startswith("$$") else (data, expression)
        value = read_path(source, path)
        if value is _MISSING:
            raise StatesError("States.Runtime", f"the path {expression} is not in the state's data")
        return value

    def _evaluate(self, call: _Call, data: Any, execution: Execution) -> Any:
        arguments = [
            self._evaluate(argument, data, execution)
            if isinstance(argument, _Call)
            else self._value_of(argument[1], data, execution)
            if isinstance(argument, tuple)
            else argument
            for argument in call.arguments
        ]
        if call.name == "States.Format":
            template, *values = arguments
            pieces = template.split("{}")
            return "".join(
                piece + (_format_value(values[index]) if index < len(values) else "")
                for index, piece in enumerate(pieces)
            )
        if call.name == "States.Array":
            return arguments
        if call.name == "States.Hash":
            value, algorithm = arguments
            return hashlib.new(algorithm.replace("-", "").lower(), str(value).encode()).hexdigest()
        if call.name == "States.MathAdd":
            first, second = arguments
            return first + second
        raise ValueError(f"intrinsic {call.name} is not supported locally")

    def _matches(self, rule: Mapping[str, Any], data: Any) -> bool:
        if "And" in rule:
            return all(self._matches(inner, data) for inner in rule["And"])
        if "Or" in rule:
            return any(self._matches(inner, data) for inner in rule["Or"])
        if "Not" in rule:
            return not self._matches(rule["Not"], data)
        value = read_path(data, rule["Variable"])
        if "IsPresent" in rule:
            return (value is not _MISSING) is bool(rule["IsPresent"])
        if value is _MISSING:
            raise StatesError("States.Runtime", f"Choice variable {rule['Variable']} is not in the state's data")
        if "IsNull" in rule:
            return (value is None) is bool(rule["IsNull"])
        for operator, compare in _COMPARISONS.items():
            if operator in rule:
                return compare(value, rule[operator])
        raise ValueError(f"Choice rule not supported locally: {sorted(rule)}")

    @staticmethod
    def _fail_field(state: Mapping[str, Any], data: Any, name: str) -> str | None:
        if f"{name}Path" in state:
            value = read_path(data, state[f"{name}Path"])
            return None if value is _MISSING else str(value)
        value = state.get(name)
        return None if value is None else str(value)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "StringEquals": lambda value, expected: isinstance(value, str) and value == expected,
    "BooleanEquals": lambda value, expected: isinstance(value, bool) and value == expected,
    "NumericEquals": lambda value, expected: isinstance(value, int | float) and value == expected,
    "NumericGreaterThan": lambda value, expected: isinstance(value, int | float) and value > expected,
    "NumericGreaterThanEquals": lambda value, expected: isinstance(value, int | float) and value >= expected,
    "NumericLessThan": lambda value, expected: isinstance(value, int | float) and value < expected,
    "NumericLessThanEquals": lambda value, expected: isinstance(value, int | float) and value <= expected,
}


def _catches(error_equals: list[str], error: str) -> bool:
    return "States.ALL" in error_equals or error in error_equals


def _format_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def substitute(definition_text: str, substitutions: Mapping[str, str]) -> dict[str, Any]:
    """The definition with ``${Name}`` placeholders replaced, as DefinitionSubstitutions does on deploy."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in substitutions:
            raise KeyError(f"no substitution for ${{{name}}}")
        return json.dumps(substitutions[name])[1:-1]

    definition: dict[str, Any] = json.loads(re.sub(r"\$\{(\w+)\}", replace, definition_text))
    return definition
