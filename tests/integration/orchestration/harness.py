"""The real weather pipeline definition, executed by moto's Step Functions interpreter on the ``local_aws`` server.

The definition is taken from the translated template (what CloudFormation would deploy) and its
DefinitionSubstitutions are resolved to the resources on the moto server: the bucket, database, workgroup and
topic that ``local_aws`` created from the template, plus the Glue job (created here from the template's
properties) and the ingest function (created here; moto runs no container image).

What the harness changes in moto, and why none of it fakes the behaviour under test:

* moto's config: Step Functions executes definitions, and Lambda uses moto's docker-free backend, whose
  responses are queued through moto's API (``/moto-api/static/lambda-simple/response``);
* ``MOTO_PORT``: moto's interpreter sends its service calls to ``localhost:$MOTO_PORT``, and the session's
  server listens on a free port;
* Glue's integration patterns also list waitForTaskToken: moto's ``.sync`` code path always closes the task-token
  callback endpoint, which only that pattern creates (``'NoneType' object has no attribute 'interrupt_all'``), and
  each attempt of the Glue task gets its own endpoint (moto makes one per state, so a retried run would time out).

Run states that moto never reaches on its own (a Glue run failing, an Athena query failing, another run holding
the job's only slot) are set through moto's backends and state manager, as its documentation describes.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import requests
from moto.athena.models import athena_backends
from moto.core.config import default_user_config
from moto.glue.models import glue_backends
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_glue
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_glue import (
    StateTaskServiceGlue,
)

from lakepipe_cli.local_aws import LOCAL_ACCOUNT_ID, LOCAL_REGION, IntrinsicResolver, LocalStack
from tools.sam_translate import PLACEHOLDER_IMAGE_URI
from tools.sync_sql import VALIDATION_SQL_PATH, athena_query_text, view_statements

STATE_MACHINE_ID = "WeatherPipelineStateMachine"
INGEST_FUNCTION_ID = "IngestWeatherFunction"
GLUE_JOB_ID = "WeatherEtlJob"
EXECUTION_TIMEOUT_SECONDS = 60.0
# The moto config keys this harness changes, restored afterwards so other tests on the same server see defaults.
_MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


@dataclass(frozen=True)
class PipelineExecution:
    """A finished execution, as describe_execution and get_execution_history report it."""

    name: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    events: list[dict[str, Any]]

    @property
    def states_entered(self) -> list[str]:
        """Every state entered, in order; a Map's iterations run concurrently, their states interleaved."""
        return [
            event["stateEnteredEventDetails"]["name"] for event in self.events if "stateEnteredEventDetails" in event
        ]

    def top_level_states_entered(self, definition: dict[str, Any]) -> list[str]:
        """The states entered that are the definition's own (not a Map iteration's), in order."""
        return [name for name in self.states_entered if name in definition["States"]]

    def task_failures(self) -> list[tuple[str, str]]:
        """(error, cause) of every failed task attempt, retries included, in order."""
        return [
            (event["taskFailedEventDetails"]["error"], event["taskFailedEventDetails"].get("cause", ""))
            for event in self.events
            if event["type"] == "TaskFailed"
        ]

    def scheduled_parameters(self, resource: str) -> list[dict[str, Any]]:
        """The parameters each attempt of the task on ``resource`` (e.g. ``invoke``) was scheduled with."""
        return [
            json.loads(event["taskScheduledEventDetails"]["parameters"])
            for event in self.events
            if event["type"] == "TaskScheduled" and event["taskScheduledEventDetails"]["resource"] == resource
        ]


@dataclass
class RetryClock:
    """Stands in for the clock moto's retrier sleeps on: records each retry delay, runs hooks instead of waiting.

    The definition's real intervals (a minute for a busy Glue job) then cost no test time, and the test sees the
    exact delays the definition asks for.
    """

    waits: list[float] = field(default_factory=list)
    on_wait: list[Callable[[float], None]] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        for hook in self.on_wait:
            hook(seconds)


class PipelineHarness:
    """The deployed-like pipeline on a moto server: start executions, shape what the services answer, read back."""

    def __init__(self, stack: LocalStack, translated_template: dict[str, Any]) -> None:
        self.stack = stack
        self.endpoint_url = stack.endpoint_url
        self.template = translated_template
        self.resolver = IntrinsicResolver(translated_template, {})
        self.resolver.physical_ids |= stack.physical_ids
        self.function_arn = ""
        self.job_name = ""
        self.state_machine_arn = ""
        self.notifications_queue_url = ""

    # ---------------------------------------------------------------- clients and provisioning
    def client(self, service_name: str) -> Any:
        return boto3.client(service_name, endpoint_url=self.endpoint_url, region_name=LOCAL_REGION)  # type: ignore[call-overload]

    def provision(self) -> None:
        """Create what local_aws leaves out (function, Glue job, state machine) and a queue on the topic."""
        role_arn = self._role("lakepipe-orchestration-test-role")
        self.function_arn = self.client("lambda").create_function(
            FunctionName=f"lakepipe-{self.resolver.values['Stage']}-{INGEST_FUNCTION_ID}",
            PackageType="Image",
            Code={"ImageUri": PLACEHOLDER_IMAGE_URI},
            Role=role_arn,
        )["FunctionArn"]
        self.resolver.physical_ids[f"{INGEST_FUNCTION_ID}.Arn"] = self.function_arn
        self.job_name = self._create_glue_job(role_arn)
        self.resolver.physical_ids[GLUE_JOB_ID] = self.job_name
        properties = self.template["Resources"][STATE_MACHINE_ID]["Properties"]
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=self.resolver.resolve(properties["StateMachineName"]),
            definition=self.definition(),
            roleArn=role_arn,
        )["stateMachineArn"]
        self.notifications_queue_url = self._subscribe_queue_to(self.topic_arn)

    def attach(self, *, function_arn: str, job_name: str, state_machine_arn: str) -> None:
        """Run a stack's own function, Glue job and state machine (the deploy rehearsal) instead of provisioning
        them here, and listen on its topic."""
        self.function_arn, self.job_name, self.state_machine_arn = function_arn, job_name, state_machine_arn
        self.notifications_queue_url = self._subscribe_queue_to(self.topic_arn)

    def definition(self) -> str:
        """The deployed definition: the translated DefinitionString with every substitution applied."""
        properties = self.template["Resources"][STATE_MACHINE_ID]["Properties"]
        text: str = self.resolver.resolve(properties["DefinitionString"])
        for name, value in self.substitutions().items():
            text = text.replace("${" + name + "}", value)
        return text

    def substitutions(self) -> dict[str, str]:
        properties = self.template["Resources"][STATE_MACHINE_ID]["Properties"]
        resolved = {name: self.resolver.resolve(value) for name, value in properties["DefinitionSubstitutions"].items()}
        unresolved = sorted(name for name, value in resolved.items() if not value)
        if unresolved:
            raise LookupError(f"no local resource for substitutions {unresolved}")
        return {name: str(value) for name, value in resolved.items()}

    @property
    def topic_arn(self) -> str:
        return str(self.resolver.physical_ids["NotificationTopic"])

    def _role(self, name: str) -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        return str(
            self.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        )

    def _create_glue_job(self, role_arn: str) -> str:
        properties = self.resolver.resolve(self.template["Resources"][GLUE_JOB_ID]["Properties"])
        job = {name: value for name, value in properties.items() if value not in (None, "", {})}
        job["Role"] = role_arn  # the job's own role is a template resource with no local meaning
        job.setdefault("Name", f"lakepipe-{GLUE_JOB_ID}")
        self.client("glue").create_job(**job)
        return str(job["Name"])

    def _subscribe_queue_to(self, topic_arn: str) -> str:
        sqs = self.client("sqs")
        queue_url = sqs.create_queue(QueueName="lakepipe-notifications-test")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.client("sns").subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
        )
        return str(queue_url)

    # ---------------------------------------------------------------- what the services answer
    def queue_ingest_response(self, response: str) -> None:
        """The body the ingest function's next invocation returns (moto's docker-free Lambda)."""
        self._moto_api("static/lambda-simple/response", {"results": [response], "region": LOCAL_REGION})

    def queue_validation_row(self, columns: list[str], values: list[str | None]) -> None:
        """The validation query's result as getQueryResults returns it: a header row, then one row (None = NULL).

        moto hands queued results to queries in the order they start, and an execution starts one DDL query per
        view (PublishViews) before the validation query: those get the empty result a DDL statement has."""
        header = {"Data": [{"VarCharValue": column} for column in columns]}
        row = {"Data": [{} if value is None else {"VarCharValue": value} for value in values]}
        results = [{"rows": []} for _ in view_statements()] + [{"rows": [header, row]}]
        self._moto_api("static/athena/query-results", {"results": results, "region": LOCAL_REGION})

    @contextmanager
    def transitions(self, model_name: str, transition: dict[str, Any]) -> Iterator[None]:
        """Hold moto's state machine for ``model_name`` (e.g. glue::job_run) to ``transition`` within the block."""
        self._moto_api("state-manager/set-transition", {"model_name": model_name, "transition": transition})
        try:
            yield
        finally:
            self.release_transitions(model_name)

    def release_transitions(self, model_name: str) -> None:
        self._moto_api("state-manager/unset-transition", {"model_name": model_name})

    def job_runs(self) -> list[Any]:
        """moto's Glue job runs of the weather ETL job (backend objects, so a test can end them)."""
        return list(glue_backends[LOCAL_ACCOUNT_ID][LOCAL_REGION].jobs[self.job_name].job_runs)

    def query_executions(self) -> list[Any]:
        """moto's Athena query executions (backend objects, so a test can fail one), in start order."""
        return list(athena_backends[LOCAL_ACCOUNT_ID][LOCAL_REGION].executions.values())

    def validation_queries(self) -> list[Any]:
        """The query executions that ran the validation SQL."""
        text = athena_query_text(VALIDATION_SQL_PATH.read_text())
        return [query for query in self.query_executions() if query.query == text]

    def view_queries(self) -> list[Any]:
        """The query executions that ran a view's CREATE OR REPLACE VIEW statement."""
        statements = {item["query"] for item in view_statements()}
        return [query for query in self.query_executions() if query.query in statements]

    def succeed_view_queries(self) -> None:
        """End every view's DDL query as SUCCEEDED once all have started (for tests that hold Athena's queries)."""
        queries = self.wait_for(
            lambda: len(self.view_queries()) == len(view_statements()) and self.view_queries(), "the view queries"
        )
        for query in queries:
            query.status = "SUCCEEDED"

    def _moto_api(self, path: str, body: dict[str, Any]) -> None:
        requests.post(f"{self.endpoint_url}/moto-api/{path}", json=body, timeout=10).raise_for_status()

    # ---------------------------------------------------------------- executions
    def start(self, name: str, execution_input: dict[str, Any]) -> str:
        return str(
            self.client("stepfunctions").start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
            )["executionArn"]
        )

    def wait(self, execution_arn: str) -> PipelineExecution:
        stepfunctions = self.client("stepfunctions")
        deadline = time.monotonic() + EXECUTION_TIMEOUT_SECONDS
        description = stepfunctions.describe_execution(executionArn=execution_arn)
        while description["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {EXECUTION_TIMEOUT_SECONDS} s")
            time.sleep(0.1)
            description = stepfunctions.describe_execution(executionArn=execution_arn)
        events = [
            event
            for page in stepfunctions.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
            for event in page["events"]
        ]
        output = description.get("output")
        return PipelineExecution(
            name=description["name"],
            status=description["status"],
            output=json.loads(output) if output else None,
            error=description.get("error"),
            cause=description.get("cause"),
            events=events,
        )

    def run(self, name: str, execution_input: dict[str, Any]) -> PipelineExecution:
        return self.wait(self.start(name, execution_input))

    def wait_for(self, condition: Callable[[], Any], what: str) -> Any:
        """Poll ``condition`` until it returns something truthy (a run or query the execution created)."""
        deadline = time.monotonic() + EXECUTION_TIMEOUT_SECONDS
        while not (result := condition()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.05)
        return result

    def notifications(self) -> list[dict[str, Any]]:
        """Every message published to the notification topic so far (raw delivery: the Message itself)."""
        sqs = self.client("sqs")
        messages: list[dict[str, Any]] = []
        while batch := sqs.receive_message(QueueUrl=self.notifications_queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            messages += [json.loads(message["Body"]) for message in batch]
            sqs.delete_message_batch(
                QueueUrl=self.notifications_queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
        return messages


@contextmanager
def moto_configured_for_orchestration(endpoint_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto executing state machines with docker-free Lambda, its interpreter reaching this server."""
    config_url = f"{endpoint_url}/moto-api/config"
    # The server runs in this process; its GET /moto-api/config leaves the stepfunctions section out.
    previous = {section: copy.deepcopy(default_user_config[section]) for section in _MOTO_CONFIG}  # type: ignore[literal-required]
    requests.post(config_url, json=_MOTO_CONFIG, timeout=10).raise_for_status()
    monkeypatch.setenv("MOTO_PORT", endpoint_url.rsplit(":", 1)[1])
    monkeypatch.setattr(
        state_task_service_glue,
        "_SUPPORTED_INTEGRATION_PATTERNS",
        {ResourceCondition.Sync, ResourceCondition.WaitForTaskToken},
    )
    # moto makes that endpoint once per state, not per attempt: a retried run would find the first attempt's closed
    # endpoint and time out at once. Each attempt gets its own, as each Step Functions task attempt does.
    evaluate_attempt = StateTaskServiceGlue._eval_execution

    def evaluate_attempt_with_its_own_endpoint(task: StateTaskServiceGlue, env: Any) -> None:
        env.callback_pool_manager.add(env.states.context_object.update_task_token())
        evaluate_attempt(task, env)

    monkeypatch.setattr(StateTaskServiceGlue, "_eval_execution", evaluate_attempt_with_its_own_endpoint)
    try:
        yield
    finally:
        requests.post(config_url, json=previous, timeout=10).raise_for_status()


def install_retry_clock(monkeypatch: pytest.MonkeyPatch) -> RetryClock:
    clock = RetryClock()
    monkeypatch.setattr(retrier_decl, "time", clock)
    return clock
