"""An embedded AWS stand-in: a moto server on 127.0.0.1 and the data-plane resources template.yaml declares.

The resources are read from the template itself (not a second hand-written list), so the tests and the demo run
against the same bucket, table, database, Glue tables and workgroup names that `sam deploy` would create.
Only data-plane resources are created; IAM, Lambda, alarms and the like have no local meaning here.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer
from samtranslator.yaml_helper import yaml_parse

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account
LOCAL_REGION = "eu-west-3"
ClientFactory = Callable[[str], Any]


@contextmanager
def moto_server() -> Iterator[str]:
    """Run a moto server on a free loopback port for the duration of the block; yields its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per AWS call drowns the output
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def local_aws_environment(endpoint_url: str) -> dict[str, str]:
    """Environment variables that point boto3, pyarrow and lakepipe's adapters at the local stand-in."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": LOCAL_REGION,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
    }


def local_stack_id(stack_name: str) -> str:
    """A stack id shaped like CloudFormation's (arn:...:stack/<name>/<uuid>), the same on every run for a name, so
    names built from it (the data bucket's) are stable locally; a real deployment gets a new one per creation."""
    stack_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"lakepipe-local-stack:{stack_name}")
    return f"arn:aws:cloudformation:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:stack/{stack_name}/{stack_uuid}"


class IntrinsicResolver:
    """Resolves the CloudFormation intrinsics this template uses, for parameters and pseudo parameters."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        self.template = template
        self.values: dict[str, Any] = {
            name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()
        } | dict(parameters)
        stack_name = f"lakepipe-{self.values.get('Stage', 'dev')}"
        self.values |= {
            "AWS::AccountId": LOCAL_ACCOUNT_ID,
            "AWS::Region": LOCAL_REGION,
            "AWS::Partition": "aws",
            "AWS::StackName": stack_name,
            "AWS::StackId": local_stack_id(stack_name),
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        self.physical_ids: dict[str, Any] = {}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def resolve(self, node: Any) -> Any:  # noqa: PLR0911, PLR0912 - one branch per intrinsic
        if isinstance(node, list):
            return [item for item in (self.resolve(value) for value in node) if item is not None]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self.physical_ids.get(value, self.values.get(value))
            if key == "Fn::Sub":
                return self._sub(value)
            if key == "Fn::GetAtt":
                logical_id, attribute = value if isinstance(value, list) else value.split(".", 1)
                return self.physical_ids.get(f"{logical_id}.{attribute}")
            if key == "Fn::Join":
                separator, items = value
                return separator.join(str(item) for item in self.resolve(items))
            if key == "Fn::Split":
                separator, text = value
                return str(self.resolve(text)).split(separator)
            if key == "Fn::Select":
                index, items = value
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::If":
                name, when_true, when_false = value
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Equals":
                left, right = (self.resolve(item) for item in value)
                return left == right
            if key == "Fn::Not":
                return not self.resolve(value[0])
            if key == "Condition":
                return self.condition(value)
        return {key: self.resolve(value) for key, value in node.items()}

    def _sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], self.resolve(value[1]))
        lookup = self.values | self.physical_ids | variables

        def replace(match_text: str) -> str:
            name = match_text[2:-1]
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name not in lookup:
                raise KeyError(f"unresolved ${{{name}}} in !Sub {text!r}")
            return str(lookup[name])

        return re.sub(r"\$\{[^}]+\}", lambda match: replace(match.group(0)), text)


@dataclass
class LocalStack:
    """Names of the data-plane resources created from the template, as a test or the demo needs them."""

    endpoint_url: str
    outputs: dict[str, Any] = field(default_factory=dict)
    physical_ids: dict[str, Any] = field(default_factory=dict)
    function_environments: dict[str, dict[str, str]] = field(default_factory=dict)
    resolver: IntrinsicResolver | None = None

    def resolve(self, node: Any) -> Any:
        """A template value (with !Ref, !Sub, !GetAtt…) as it resolves against this stand-in."""
        if self.resolver is None:
            raise RuntimeError("this LocalStack was not provisioned from a template")
        return self.resolver.resolve(node)

    def environment_for(self, function_id: str) -> dict[str, str]:
        """What Lambda would set for ``function_id`` (Globals + its own variables), plus the local endpoint."""
        return self.function_environments[function_id] | local_aws_environment(self.endpoint_url)

    @property
    def bucket(self) -> str:
        return str(self.outputs["DataBucketName"])

    @property
    def database(self) -> str:
        return str(self.outputs["GlueDatabaseName"])

    @property
    def idempotency_table(self) -> str:
        return str(self.outputs["IdempotencyTableName"])


def _create_bucket(client: ClientFactory, props: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    name = props.get("BucketName") or f"lakepipe-{logical_id.lower()}"
    s3 = client("s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": LOCAL_REGION})
    if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    _notify(client, name, props.get("NotificationConfiguration", {}))
    return {"": name, "Arn": f"arn:aws:s3:::{name}"}


def _create_dynamodb_table(client: ClientFactory, props: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    name = props.get("TableName") or f"lakepipe-{logical_id}"
    client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
    )
    return {"": name, "Arn": f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:table/{name}"}


def _create_glue_database(client: ClientFactory, props: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    database_input = props["DatabaseInput"]
    client("glue").create_database(DatabaseInput=database_input)
    return {"": database_input["Name"]}


def _create_glue_table(client: ClientFactory, props: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    client("glue").create_table(DatabaseName=props["DatabaseName"], TableInput=props["TableInput"])
    return {"": props["TableInput"]["Name"]}


def _create_athena_workgroup(client: ClientFactory, props: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    configuration = props.get("WorkGroupConfiguration", {})
    client("athena").create_work_group(Name=props["Name"], Configuration=configuration)
    return {"": props["Name"]}


def _create_sns_topic(client: ClientFactory, props: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    arn = client("sns").create_topic(Name=props.get("TopicName") or f"lakepipe-{logical_id}")["TopicArn"]
    return {"": arn, "TopicArn": arn, "TopicName": arn.rsplit(":", 1)[-1]}


def _create_sqs_queue(client: ClientFactory, props: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    name = props.get("QueueName") or f"lakepipe-{logical_id}"
    attributes = {key: str(props[key]) for key in ("VisibilityTimeout", "MessageRetentionPeriod") if key in props}
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    url = client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return {"": url, "QueueName": name, "Arn": f"arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:{name}"}


def _notify(client: ClientFactory, bucket: str, notifications: Mapping[str, Any]) -> None:
    """The bucket's event notifications, as the template declares them.

    S3 wants a space in a key filter written "+" and compares it with the key as stored (so the template says
    ``input+data/``); moto compares the filter with the key literally, so it is given the decoded prefix.
    """
    configurations = [
        {
            "QueueArn": queue["Queue"],
            "Events": [queue["Event"]],
            "Filter": {
                "Key": {
                    "FilterRules": [
                        {"Name": rule["Name"], "Value": urllib.parse.unquote_plus(rule["Value"])}
                        for rule in queue.get("Filter", {}).get("S3Key", {}).get("Rules", [])
                    ]
                }
            },
        }
        for queue in notifications.get("QueueConfigurations", [])
    ]
    if configurations:
        client("s3").put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"QueueConfigurations": configurations}
        )


_CREATORS: dict[str, Callable[[ClientFactory, Mapping[str, Any], str], dict[str, Any]]] = {
    "AWS::S3::Bucket": _create_bucket,
    "AWS::DynamoDB::Table": _create_dynamodb_table,
    "AWS::Glue::Database": _create_glue_database,
    "AWS::Glue::Table": _create_glue_table,
    "AWS::Athena::WorkGroup": _create_athena_workgroup,
    "AWS::SNS::Topic": _create_sns_topic,
    "AWS::SQS::Queue": _create_sqs_queue,
}


def _creation_order(resources: Mapping[str, Any]) -> list[str]:
    """Logical IDs of creatable resources, each after the creatable resources it references."""
    creatable = [logical_id for logical_id, spec in resources.items() if spec.get("Type") in _CREATORS]
    text = {logical_id: json.dumps(resources[logical_id]) for logical_id in creatable}
    ordered: list[str] = []

    def visit(logical_id: str, seen: frozenset[str]) -> None:
        if logical_id in ordered or logical_id in seen:
            return
        for other in creatable:
            if other != logical_id and (f'"{other}"' in text[logical_id] or f"${{{other}" in text[logical_id]):
                visit(other, seen | {logical_id})
        ordered.append(logical_id)

    for logical_id in creatable:
        visit(logical_id, frozenset())
    return ordered


def provision_from_template(
    endpoint_url: str, parameters: Mapping[str, str] | None = None, template_path: Path = TEMPLATE_PATH
) -> LocalStack:
    """Create the template's data-plane resources on the moto server at ``endpoint_url``."""
    template = yaml_parse(template_path.read_text())
    resolver = IntrinsicResolver(template, parameters or {})
    env = local_aws_environment(endpoint_url)
    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
        region_name=LOCAL_REGION,
    )

    def client(service_name: str) -> Any:
        return session.client(service_name, endpoint_url=endpoint_url)  # type: ignore[call-overload]

    resources = template["Resources"]
    for logical_id in _creation_order(resources):
        spec = resources[logical_id]
        if "Condition" in spec and not resolver.condition(spec["Condition"]):
            continue
        props = resolver.resolve(spec.get("Properties", {}))
        attributes = _CREATORS[spec["Type"]](client, props, logical_id)
        resolver.physical_ids[logical_id] = attributes.pop("")
        resolver.physical_ids |= {f"{logical_id}.{name}": value for name, value in attributes.items()}
    _name_compute_resources(template, resolver)
    outputs: dict[str, Any] = {}
    for name, output in template.get("Outputs", {}).items():
        try:
            outputs[name] = resolver.resolve(output["Value"])
        except KeyError:
            continue  # an output of a resource with no local meaning (a function, a role)
    return LocalStack(
        endpoint_url=endpoint_url,
        outputs=outputs,
        physical_ids=dict(resolver.physical_ids),
        function_environments=_function_environments(template, resolver),
        resolver=resolver,
    )


def _name_compute_resources(template: Mapping[str, Any], resolver: IntrinsicResolver) -> None:
    """Names and ARNs for what is not created locally (functions, Glue jobs, state machines, alarms, rules, the
    dashboard), so references to them resolve: the demo runs those pieces itself, under these names."""
    prefix = f"arn:aws:{{service}}:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}"
    for logical_id, spec in template["Resources"].items():
        properties = spec.get("Properties", {})
        if spec.get("Type") == "AWS::Serverless::Function":
            resolver.physical_ids[logical_id] = logical_id
            resolver.physical_ids[f"{logical_id}.Arn"] = f"{prefix.format(service='lambda')}:function:{logical_id}"
        elif spec.get("Type") == "AWS::Glue::Job":
            resolver.physical_ids[logical_id] = resolver.resolve(properties.get("Name")) or logical_id
        elif spec.get("Type") == "AWS::Serverless::StateMachine":
            name = resolver.resolve(properties.get("Name")) or logical_id
            resolver.physical_ids[logical_id] = f"{prefix.format(service='states')}:stateMachine:{name}"
            resolver.physical_ids[f"{logical_id}.Name"] = name
        elif spec.get("Type") == "AWS::CloudWatch::Alarm":  # named by CloudFormation: <stack>-<logical id>-<id>
            name = f"lakepipe-{logical_id}"
            resolver.physical_ids[logical_id] = name
            resolver.physical_ids[f"{logical_id}.Arn"] = f"{prefix.format(service='cloudwatch')}:alarm:{name}"
        elif spec.get("Type") == "AWS::Events::Rule":
            name = resolver.resolve(properties.get("Name")) or f"lakepipe-{logical_id}"
            resolver.physical_ids[logical_id] = name
            resolver.physical_ids[f"{logical_id}.Arn"] = f"{prefix.format(service='events')}:rule/{name}"
        elif spec.get("Type") == "AWS::CloudWatch::Dashboard":
            resolver.physical_ids[logical_id] = resolver.resolve(properties.get("DashboardName")) or logical_id


def _function_environments(template: Mapping[str, Any], resolver: IntrinsicResolver) -> dict[str, dict[str, str]]:
    """Each function's environment variables as deployed: Globals first, the function's own on top."""
    global_variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    environments: dict[str, dict[str, str]] = {}
    for logical_id, spec in template["Resources"].items():
        if spec.get("Type") != "AWS::Serverless::Function":
            continue
        own_variables = spec.get("Properties", {}).get("Environment", {}).get("Variables", {})
        variables = resolver.resolve(dict(global_variables) | dict(own_variables))
        environments[logical_id] = {name: str(value) for name, value in variables.items() if value is not None}
    return environments
