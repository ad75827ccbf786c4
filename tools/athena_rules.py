"""Athena's own documented rules, checked on every SQL file and every query of the state machine.

Locally the SQL runs on DuckDB, which accepts more than Athena does; these rules are what Athena (engine 3)
documents, each checked by a tool that is not lakepipe's own code where one exists:

=====================  ======================================================================================
rule                   what it checks (source)
=====================  ======================================================================================
statement              one statement per query: StartQueryExecution runs one
trino-grammar          the query parses with Trino's own ANTLR grammar (trino-query-parser, SqlBase.g4 of
                       Trino 422); Athena engine 3 is Trino ("Athena engine version 3" page)
sqlglot                sqlglot parses it in its Athena dialect, as the local runner needs
functions              every function called is one Athena engine 3 has (tools/athena_engine3_functions.txt,
                       from Trino's function list, which Athena's engine 3 functions page points to)
parameter-statement    ? only in SELECT, INSERT INTO, CTAS and UNLOAD ("Use parameterized queries")
parameter-placement    ? only in a WHERE clause: "Currently, ? parameters can be placed only in the WHERE
                       clause. Syntax like SELECT ? FROM table is not supported" (same page)
parameter-text         no ? inside quotes or comments: "'?' and "?" are not valid syntax" (same page), and
                       such a ? would not be a placeholder to DuckDB either
parameter-count        (state machine) one ExecutionParameters value per ? placeholder
parameter-literal      (state machine) each ExecutionParameters value, evaluated by moto's Step Functions
                       interpreter, is one SQL literal, and a value taken from the state data arrives as a
                       quoted string: Athena splices the text in as SQL (EXECUTE ... USING 'usa' for a string)
query-source           (state machine) the query text can be read from the definition, so it can be checked
=====================  ======================================================================================

Run: ``python tools/athena_rules.py`` (every sql/**/*.sql and statemachine/*.asl.json), or name files. Exit 1 on
any problem, each printed as ``source: [rule] message``. ``make statelint`` (and so ``make test``) runs it.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import TokenType, exp
from sqlglot.dialects.athena import Athena

from lakepipe_cli.athena_local import execution_parameter_literal

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_PATH = Path(__file__).resolve().parent / "athena_engine3_functions.txt"
START_QUERY_RESOURCES = {
    "arn:aws:states:::athena:startQueryExecution",
    "arn:aws:states:::athena:startQueryExecution.sync",
}
# What a value read from the state data stands for when ExecutionParameters are evaluated: a date, the value
# lakepipe sends, and text that is SQL arithmetic (2026 - 11 - 20) unless it arrives quoted.
SAMPLE_STATE_VALUE = "2026-11-20"
# Statements Athena runs with parameters ("Use parameterized queries": SELECT, INSERT INTO, CTAS, UNLOAD).
_PARAMETERIZABLE = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Insert)
# sqlglot nodes that are SQL syntax rather than a call by name (no name token to read), and the name Athena's
# function list gives the ones that are listed there.
_SYNTAX_FUNCTIONS: dict[type[exp.Expr], str | None] = {
    exp.Cast: "cast",
    exp.TryCast: "try_cast",
    exp.If: "if",
    exp.Extract: "extract",
    exp.Case: None,
    exp.Unnest: None,
    exp.And: None,
    exp.Or: None,
    exp.Xor: None,
    exp.Array: None,
}


@dataclass(frozen=True)
class Problem:
    source: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: [{self.rule}] {self.message}"


def athena_functions(path: Path = FUNCTIONS_PATH) -> frozenset[str]:
    """The function names of tools/athena_engine3_functions.txt (lower-case)."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return frozenset(line.lower() for line in lines if line and not line.startswith("#"))


# ---------------------------------------------------------------- one query


def check_query(sql: str, source: str, functions: frozenset[str] | None = None) -> list[Problem]:
    """Every rule that applies to one query's text."""
    problems = _grammar_problems(sql, source)
    try:
        statements = [statement for statement in sqlglot.parse(sql, read="athena") if statement is not None]
    except sqlglot.errors.SqlglotError as error:
        return [*problems, Problem(source, "sqlglot", str(error).splitlines()[0])]
    if len(statements) != 1:
        return [*problems, Problem(source, "statement", f"{len(statements)} statements; Athena runs one per query")]
    (statement,) = statements
    problems += _function_problems(statement, sql, source, functions or athena_functions())
    problems += _placeholder_problems(statement, sql, source)
    return problems


def _grammar_problems(sql: str, source: str) -> list[Problem]:
    from trino_query_parser import parse_statement  # type: ignore[import-untyped]  # noqa: PLC0415 - ANTLR, slow import

    try:
        parse_statement(sql)
    except Exception as error:  # the parser raises its own TrinoSyntaxError, an Exception subclass
        return [Problem(source, "trino-grammar", f"Trino's grammar rejects it at {error}")]
    return []


def _function_problems(statement: exp.Expr, sql: str, source: str, functions: frozenset[str]) -> list[Problem]:
    problems = []
    for call in statement.find_all(exp.Func):
        meta = call.meta
        if "start" in meta and "end" in meta:
            # The name as written: sqlglot maps some names to portable nodes (array_size -> CARDINALITY in Trino),
            # which would hide a function Athena does not have.
            name: str | None = sql[meta["start"] : meta["end"] + 1].lower()
        elif type(call) in _SYNTAX_FUNCTIONS:
            name = _SYNTAX_FUNCTIONS[type(call)]
        else:
            problems.append(Problem(source, "functions", f"cannot tell which function {call.sql()[:60]} calls"))
            continue
        if name is not None and name not in functions:
            problems.append(Problem(source, "functions", f"{name}() is not an Athena engine 3 function"))
    return problems


def _placeholder_problems(statement: exp.Expr, sql: str, source: str) -> list[Problem]:
    placeholders = list(statement.find_all(exp.Placeholder))
    problems = []
    tokens = [token for token in Athena().tokenize(sql) if token.token_type == TokenType.PLACEHOLDER]
    if sql.count("?") != len(tokens):
        problems.append(
            Problem(
                source,
                "parameter-text",
                f"{sql.count('?') - len(tokens)} '?' inside a string, a quoted name or a comment: Athena's "
                "parameters are bare ?, never quoted",
            )
        )
    if placeholders and not isinstance(statement, _PARAMETERIZABLE):
        kind = type(statement).__name__.upper()
        problems.append(
            Problem(
                source,
                "parameter-statement",
                f"? in a {kind} statement: Athena takes parameters in SELECT, INSERT INTO, CTAS and UNLOAD only",
            )
        )
    for placeholder in placeholders:
        clause = _clause_of(placeholder)
        if clause != "WHERE":
            context = (placeholder.parent or placeholder).sql(dialect="athena")[:80]
            problems.append(
                Problem(
                    source,
                    "parameter-placement",
                    f"? in the {clause} ({context}): Athena accepts ? only in a WHERE clause",
                )
            )
    return problems


def _clause_of(node: exp.Expr) -> str:
    """The clause a node sits in: WHERE when the nearest enclosing clause is a WHERE, else that clause's name."""
    while node.parent is not None:
        parent = node.parent
        if isinstance(parent, exp.Where):
            return "WHERE"
        if isinstance(parent, exp.Join):
            return "JOIN"
        if isinstance(parent, exp.Select | exp.Values | exp.Limit | exp.Offset | exp.Create | exp.Insert):
            names = {"expressions": "SELECT list", "from": "FROM", "group": "GROUP BY", "having": "HAVING"}
            if isinstance(parent, exp.Select):
                key = node.arg_key or ""
                return names.get(key, key.upper())
            return type(parent).__name__.upper()
        node = parent
    return "statement"


# ---------------------------------------------------------------- execution parameters


def execution_parameter_problems(values: Sequence[Any]) -> list[str]:
    """Why each execution parameter is not a SQL literal Athena can splice in (empty: all are)."""
    problems = []
    for position, value in enumerate(values, start=1):
        if not isinstance(value, str):
            problems.append(f"parameter {position} is {value!r}, not text")
            continue
        try:
            execution_parameter_literal(value)
        except ValueError as error:
            problems.append(f"parameter {position}: {error}")
    return problems


def evaluate_with_moto(expression: str, state_input: Mapping[str, Any]) -> Any:
    """``expression`` (a JSONPath or intrinsic function) evaluated by moto's Step Functions interpreter on
    ``state_input``: a one-state machine whose Pass state takes it as a parameter, run in process."""
    import boto3  # noqa: PLC0415 - only the state machine checks need an interpreter
    from moto import mock_aws  # noqa: PLC0415

    definition = {
        "StartAt": "Evaluate",
        "States": {"Evaluate": {"Type": "Pass", "Parameters": {"value.$": expression}, "End": True}},
    }
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions", region_name="eu-west-3")
        arn = client.create_state_machine(
            name="athena-rules", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/rules"
        )["stateMachineArn"]
        execution_arn = client.start_execution(stateMachineArn=arn, input=json.dumps(state_input))["executionArn"]
        deadline = time.monotonic() + 30
        while (description := client.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise TimeoutError(f"moto did not evaluate {expression}")
            time.sleep(0.02)
    if description["status"] != "SUCCEEDED":
        raise ValueError(f"{expression}: {description.get('error')}: {description.get('cause')}")
    return json.loads(description["output"])["value"]


# ---------------------------------------------------------------- state machine


@dataclass(frozen=True)
class StateQuery:
    """One query a StartQueryExecution state sends, with what it sends as ExecutionParameters."""

    state: str
    query: str
    parameters: Any  # a literal list, an expression string ("ExecutionParameters.$"), or None
    state_input: dict[str, Any]


def _write(document: dict[str, Any], path: str, value: Any) -> None:
    names = path.removeprefix("$.").split(".")
    target = document
    for name in names[:-1]:
        target = target.setdefault(name, {})
    target[names[-1]] = value


def _read(document: Any, path: str) -> Any:
    value = document
    for name in path.removeprefix("$").lstrip(".").split(".") if path != "$" else []:
        if not isinstance(value, dict) or name not in value:
            raise KeyError(path)
        value = value[name]
    return value


def static_state_data(states: Mapping[str, Any]) -> dict[str, Any]:
    """What the definition itself puts in the state data: every Pass state's Result at its ResultPath."""
    data: dict[str, Any] = {}
    for state in states.values():
        if state["Type"] == "Pass" and "Result" in state and state.get("ResultPath", "$") not in (None, "$"):
            _write(data, state["ResultPath"], copy.deepcopy(state["Result"]))
    return data


def state_queries(definition: Mapping[str, Any]) -> Iterator[StateQuery | Problem]:
    """Every query the definition's StartQueryExecution states send, Map iterations' included, or a Problem when
    one cannot be read from the definition."""
    yield from _queries_in(definition["States"], static_state_data(definition["States"]), "")


def _queries_in(states: Mapping[str, Any], data: dict[str, Any], prefix: str) -> Iterator[StateQuery | Problem]:
    for name, state in states.items():
        where = f"{prefix}{name}"
        if state["Type"] == "Map":
            yield from _map_queries(state, data, where)
        elif state["Type"] == "Parallel":
            for index, branch in enumerate(state["Branches"]):
                yield from _queries_in(branch["States"], data, f"{where}.branch{index}/")
        elif state["Type"] == "Task" and state.get("Resource") in START_QUERY_RESOURCES:
            parameters = state.get("Parameters", {})
            execution_parameters = parameters.get("ExecutionParameters", parameters.get("ExecutionParameters.$"))
            if "QueryString" in parameters:
                yield StateQuery(where, parameters["QueryString"], execution_parameters, data)
            elif "QueryString.$" in parameters:
                try:
                    query = _read(data, parameters["QueryString.$"])
                except KeyError:
                    yield Problem(
                        where,
                        "query-source",
                        f"QueryString.$ {parameters['QueryString.$']} is not a "
                        "value the definition sets, so the query cannot be checked",
                    )
                    continue
                yield StateQuery(where, query, execution_parameters, data)
            else:
                yield Problem(where, "query-source", "no QueryString")


def _map_queries(state: Mapping[str, Any], data: dict[str, Any], where: str) -> Iterator[StateQuery | Problem]:
    try:
        items = _read(data, state.get("ItemsPath", "$"))
    except KeyError:
        items = None
    if not isinstance(items, list):
        yield Problem(where, "query-source", f"ItemsPath {state.get('ItemsPath')} is not an array the definition sets")
        return
    processor = state.get("ItemProcessor") or state["Iterator"]
    selector = state.get("ItemSelector", state.get("Parameters"))
    for index, item in enumerate(items):
        iteration = item if selector is None else _select(selector, item, data)
        yield from _queries_in(processor["States"], iteration, f"{where}[{index}]/")


def _select(selector: Mapping[str, Any], item: Any, data: dict[str, Any]) -> dict[str, Any]:
    """An ItemSelector applied statically: ``$$.Map.Item.Value…`` reads the item, ``$…`` the Map's input."""
    selected: dict[str, Any] = {}
    for key, value in selector.items():
        if key.endswith(".$") and isinstance(value, str):
            source, path = (
                (item, value.removeprefix("$$.Map.Item.Value"))
                if value.startswith("$$.Map.Item.Value")
                else (data, value)
            )
            try:
                selected[key[:-2]] = _read(source, "$" + path if not path.startswith("$") else path)
            except KeyError:
                selected[key[:-2]] = None
        else:
            selected[key] = value
    return selected


def check_definition(
    definition: Mapping[str, Any], source: str, functions: frozenset[str] | None = None
) -> list[Problem]:
    """Every query of a state machine definition, and the ExecutionParameters it sends with it."""
    problems: list[Problem] = []
    for found in state_queries(definition):
        if isinstance(found, Problem):
            problems.append(Problem(f"{source}#{found.source}", found.rule, found.message))
            continue
        where = f"{source}#{found.state}"
        problems += check_query(found.query, where, functions)
        problems += _parameter_problems(found, where)
    return problems


def _parameter_problems(found: StateQuery, where: str) -> list[Problem]:
    tokens = [token for token in Athena().tokenize(found.query) if token.token_type == TokenType.PLACEHOLDER]
    if found.parameters is None:
        values: list[Any] = []
    elif isinstance(found.parameters, list):
        values = found.parameters
    else:
        state_input = copy.deepcopy(found.state_input)
        for path in sorted(set(re.findall(r"(?<!\$)\$\.[A-Za-z_][\w.]*", found.parameters))):
            try:
                _read(state_input, path)
            except KeyError:
                _write(state_input, path, SAMPLE_STATE_VALUE)
        try:
            evaluated = evaluate_with_moto(found.parameters, state_input)
        except (ValueError, TimeoutError) as error:
            return [Problem(where, "parameter-literal", f"ExecutionParameters do not evaluate: {error}")]
        values = evaluated if isinstance(evaluated, list) else [evaluated]
    problems = []
    if len(values) != len(tokens):
        problems.append(
            Problem(where, "parameter-count", f"{len(values)} ExecutionParameters for {len(tokens)} ? placeholder(s)")
        )
    problems += [Problem(where, "parameter-literal", message) for message in execution_parameter_problems(values)]
    return problems


# ---------------------------------------------------------------- command line


def check_paths(paths: Sequence[Path]) -> tuple[list[Problem], int]:
    """Problems in the given .sql and .asl.json files, and how many queries were checked."""
    functions = athena_functions()
    problems: list[Problem] = []
    checked = 0
    for path in paths:
        source = str(path.resolve().relative_to(REPO_ROOT)) if path.resolve().is_relative_to(REPO_ROOT) else str(path)
        if path.name.endswith(".asl.json"):
            definition = json.loads(path.read_text())
            checked += sum(isinstance(found, StateQuery) for found in state_queries(definition))
            problems += check_definition(definition, source, functions)
        else:
            checked += 1
            problems += check_query(path.read_text().strip().removesuffix(";"), source, functions)
    return problems, checked


def default_paths() -> list[Path]:
    return sorted((REPO_ROOT / "sql").rglob("*.sql")) + sorted((REPO_ROOT / "statemachine").glob("*.asl.json"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, help="SQL files and state machine definitions (default: all)")
    args = parser.parse_args(argv)
    paths = args.paths or default_paths()
    problems, checked = check_paths(paths)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"athena-rules: {len(problems)} problem(s) in {checked} quer(ies)", file=sys.stderr)
        return 1
    print(f"athena-rules: {checked} quer(ies) in {len(paths)} file(s) follow Athena's rules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
