"""A deploy rehearsal on moto: the translated template created as a CloudFormation stack, completed through each
service's own API where moto's CloudFormation stops, deleted the way CloudFormation deletes, and created again.

What moto's CloudFormation (5.2) does with this template, read from ``moto/cloudformation/parsing.py`` and each
model's ``create_from_cloudformation_json``, is written down below, resource type by resource type:

* ``MOTO_CANNOT_CREATE``: types it skips with a warning (the stack still reaches CREATE_COMPLETE, every !Ref or
  !GetAtt to them resolves to nothing and the outputs naming them vanish). Each is created here through its
  service's API with its properties resolved against the live stack (parameters, the stack's own id, the physical
  ids moto gave), and deleted when the stack is.
* ``MOTO_KEEPS``: for the types it creates, the properties it honours. Every other property is applied through
  the service's API (``DROPPED_PROPERTY_APPLIERS``), or named in ``NOT_CHECKED_HERE`` with the reason; so is a
  kept property that refers to a resource moto could not create (moto resolved it to nothing).

:func:`unaccounted_properties` lists what fits none of these: a new resource type or property makes the rehearsal
test fail until someone says how it is checked. Botocore validates every request against the service's model and
moto answers as the service does (unknown ARNs, malformed policies, a logging target that does not exist), so each
resolved value meets the service's own rules, not a copy of them written here. And wherever moto's CloudFormation
did resolve a value the rehearsal applies again (environments, policies, the definition, the rule's pattern), the
two resolutions must agree: moto's intrinsic engine checks the project's resolver.
"""

from __future__ import annotations

import ast
import copy
import functools
import json
import random
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from lakepipe_cli.local_aws import LOCAL_ACCOUNT_ID, LOCAL_REGION, IntrinsicResolver

ClientFactory = Callable[[str], Any]
ALL_PROPERTIES = frozenset({"*"})


class UnresolvedReferenceError(LookupError):
    """A !Ref or !GetAtt names something that does not exist (yet) on the rehearsed stack."""


class StrictResolver(IntrinsicResolver):
    """The project's intrinsic resolver, refusing references it cannot resolve instead of dropping them."""

    def resolve(self, node: Any) -> Any:
        """``node`` resolved; a !Ref to AWS::NoValue removes its key, as CloudFormation does."""
        if isinstance(node, dict) and len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref" and value != "AWS::NoValue" and value not in self.physical_ids and value not in self.values:
                raise UnresolvedReferenceError(f"!Ref {value}")
            if key == "Fn::GetAtt":
                logical_id, attribute = value if isinstance(value, list) else value.split(".", 1)
                if f"{logical_id}.{attribute}" not in self.physical_ids:
                    raise UnresolvedReferenceError(f"!GetAtt {logical_id}.{attribute}")
        try:
            resolved = super().resolve(node)
        except KeyError as error:  # an unknown ${Name} in a !Sub
            raise UnresolvedReferenceError(str(error)) from error
        if isinstance(resolved, dict):
            return {key: value for key, value in resolved.items() if value is not None}
        return resolved


# ---------------------------------------------------------------- what moto's CloudFormation creates, and keeps
MOTO_KEEPS: dict[str, frozenset[str]] = {
    "AWS::S3::Bucket": frozenset({"BucketName", "BucketEncryption", "Tags"}),
    "AWS::SQS::Queue": ALL_PROPERTIES,  # every property goes to create_queue
    "AWS::SNS::Topic": frozenset({"TopicName", "DisplayName", "KmsMasterKeyId", "Subscription"}),
    # KeyPolicy is kept as a dict, which moto's own API cannot read back: it is put again below.
    "AWS::KMS::Key": frozenset({"Description", "EnableKeyRotation", "Enabled", "Tags"}),
    "AWS::Logs::LogGroup": frozenset({"LogGroupName", "RetentionInDays", "Tags"}),
    "AWS::Lambda::Function": frozenset(
        {
            "Code",
            "Handler",
            "Role",
            "Runtime",
            "Description",
            "MemorySize",
            "Timeout",
            "Environment",
            "ReservedConcurrentExecutions",
            "VpcConfig",
            "Publish",
        }
    ),
    "AWS::Lambda::Permission": ALL_PROPERTIES,  # stored as the function policy's statement
    # Every property goes to create_event_source_mapping (batch size, response types, scaling config are kept).
    "AWS::Lambda::EventSourceMapping": ALL_PROPERTIES,
    "AWS::Events::Rule": frozenset(
        {
            "Name",
            "EventPattern",
            "ScheduleExpression",
            "State",
            "Description",
            "RoleArn",
            "EventBusName",
            "Tags",
            "Targets",
        }
    ),
    "AWS::StepFunctions::StateMachine": frozenset({"StateMachineName", "DefinitionString", "RoleArn"}),
    "AWS::DynamoDB::Table": frozenset(
        {
            "TableName",
            "KeySchema",
            "AttributeDefinitions",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "ProvisionedThroughput",
            "StreamSpecification",
            "Tags",
            "DeletionProtectionEnabled",
            "SSESpecification",
            "BillingMode",
        }
    ),
    # Policies are kept as Python's repr of the document, not JSON: they are put again below.
    "AWS::IAM::Role": frozenset({"RoleName", "AssumeRolePolicyDocument", "Path", "Description", "MaxSessionDuration"}),
    "AWS::IAM::Policy": frozenset({"PolicyName", "Roles", "Users", "Groups"}),
    # Both go to put_dashboard; the body's !Sub names alarms and a Glue job moto cannot create: it is put again below.
    "AWS::CloudWatch::Dashboard": frozenset({"DashboardName", "DashboardBody"}),
}

NOT_CHECKED_HERE: dict[tuple[str, str], str] = {
    ("AWS::Lambda::Function", "PackageType"): (
        "moto's CloudFormation makes a Zip function and the type cannot change afterwards; the image is built by "
        "`sam build` (Docker), which this machine does not run"
    ),
    ("AWS::Lambda::Function", "Architectures"): (
        "set only when a function is created or its code replaced; moto's CloudFormation creates it x86_64"
    ),
}


@dataclass
class ApiResource:
    """A resource this rehearsal created through its service's API, as CloudFormation would have."""

    logical_id: str
    resource_type: str
    physical_id: str
    properties: dict[str, Any]


@dataclass
class RehearsedStack:
    """One creation of the stack: moto's part and the rehearsal's, with every value resolved."""

    client: ClientFactory
    template: dict[str, Any]
    stack_name: str
    stack_id: str
    parameters: dict[str, str]
    resolver: StrictResolver
    moto_outputs: dict[str, str]
    outputs: dict[str, str] = field(default_factory=dict)
    moto_created: dict[str, str] = field(default_factory=dict)
    api_created: list[ApiResource] = field(default_factory=list)
    # Where moto's CloudFormation resolved a value the rehearsal applies again, the two must agree.
    disagreements: list[str] = field(default_factory=list)
    when_complete: list[Callable[[], Any]] = field(default_factory=list)
    before_delete: list[Callable[[], Any]] = field(default_factory=list)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.template["Resources"])

    def physical_id(self, logical_id: str) -> str:
        return str(self.resolver.physical_ids[logical_id])

    def attribute(self, logical_id: str, name: str) -> str:
        return str(self.resolver.physical_ids[f"{logical_id}.{name}"])

    def properties(self, logical_id: str) -> dict[str, Any]:
        """The resource's properties as they resolve on this stack."""
        resolved: dict[str, Any] = self.resolver.resolve(self.resources[logical_id].get("Properties", {}))
        return resolved

    def delete(self) -> None:
        """Delete what this rehearsal created (except what the template retains), then the stack through moto."""
        for undo in reversed(self.before_delete):
            undo()
        for resource in reversed(self.api_created):
            if self.resources[resource.logical_id].get("DeletionPolicy") != "Retain":
                _CREATORS[resource.resource_type].delete(self, resource)
        cloudformation = self.client("cloudformation")
        cloudformation.delete_stack(StackName=self.stack_id)
        status = cloudformation.describe_stacks(StackName=self.stack_id)["Stacks"][0]["StackStatus"]
        if status != "DELETE_COMPLETE":
            raise RuntimeError(f"stack {self.stack_name} ended {status}")


def create_stack(
    client: ClientFactory, template: Mapping[str, Any], stack_name: str, parameters: Mapping[str, str]
) -> RehearsedStack:
    """Create ``template`` as stack ``stack_name`` on moto's CloudFormation, then complete it through the APIs."""
    template = copy.deepcopy(dict(template))
    cloudformation = client("cloudformation")
    stack_id = cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )["StackId"]
    description = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
    if description["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {stack_name} ended {description['StackStatus']}: {description}")
    resolver = StrictResolver(template, parameters)
    resolver.values |= {"AWS::StackName": stack_name, "AWS::StackId": stack_id}
    stack = RehearsedStack(
        client=client,
        template=template,
        stack_name=stack_name,
        stack_id=stack_id,
        parameters=dict(parameters),
        resolver=resolver,
        moto_outputs={output["OutputKey"]: output["OutputValue"] for output in description.get("Outputs", [])},
    )
    summaries = cloudformation.list_stack_resources(StackName=stack_id)["StackResourceSummaries"]
    stack.moto_created = {
        s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries if s.get("LogicalResourceId")
    }
    for logical_id, physical_id in stack.moto_created.items():
        resource_type = stack.resources[logical_id]["Type"]
        resolver.physical_ids[logical_id] = physical_id
        attributes = _ATTRIBUTES.get(resource_type, lambda _client, _physical_id: {})(client, physical_id)
        resolver.physical_ids |= {f"{logical_id}.{name}": value for name, value in attributes.items()}
    _create_what_moto_cannot(stack)
    _apply_what_moto_drops(stack)
    if stack.disagreements:
        raise AssertionError(
            "moto's CloudFormation and the rehearsal resolve differently: " + "; ".join(stack.disagreements)
        )
    for settle in stack.when_complete:
        settle()
    stack.outputs = {name: str(resolver.resolve(output["Value"])) for name, output in template["Outputs"].items()}
    return stack


def _wanted(stack: RehearsedStack, logical_id: str) -> bool:
    condition = stack.resources[logical_id].get("Condition")
    return condition is None or stack.resolver.condition(condition)


def _create_what_moto_cannot(stack: RehearsedStack) -> None:
    pending = [
        logical_id
        for logical_id, spec in stack.resources.items()
        if spec["Type"] in MOTO_CANNOT_CREATE and _wanted(stack, logical_id)
    ]
    while pending:
        progressed: list[str] = []
        for logical_id in pending:
            resource_type = stack.resources[logical_id]["Type"]
            try:
                properties = stack.properties(logical_id)
            except UnresolvedReferenceError:
                continue  # it names another resource still to be created here
            physical_id, attributes = _CREATORS[resource_type].create(stack, logical_id, properties)
            stack.resolver.physical_ids[logical_id] = physical_id
            stack.resolver.physical_ids |= {f"{logical_id}.{name}": value for name, value in attributes.items()}
            stack.api_created.append(ApiResource(logical_id, resource_type, physical_id, properties))
            progressed.append(logical_id)
        if not progressed:
            problems = {logical_id: _why_unresolved(stack, logical_id) for logical_id in pending}
            raise UnresolvedReferenceError(f"cannot resolve the properties of {problems}")
        pending = [logical_id for logical_id in pending if logical_id not in progressed]


def _why_unresolved(stack: RehearsedStack, logical_id: str) -> str:
    try:
        stack.properties(logical_id)
    except UnresolvedReferenceError as error:
        return str(error)
    return "resolves now"


def _apply_what_moto_drops(stack: RehearsedStack) -> None:
    for logical_id in stack.moto_created:
        spec = stack.resources[logical_id]
        for name in spec.get("Properties", {}):
            applier = DROPPED_PROPERTY_APPLIERS.get((spec["Type"], name))
            if applier is not None:
                applier(stack, logical_id, stack.resolver.resolve(spec["Properties"][name]))


def references(node: Any) -> set[str]:
    """Logical ids (and pseudo parameters) a template value refers to, by !Ref, !GetAtt or ${} in a !Sub."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add((value if isinstance(value, list) else value.split("."))[0])
            elif key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
                names = {part.split("}")[0] for part in text.split("${")[1:] if not part.startswith("!")}
                found |= {name.split(".")[0] for name in names} - set(variables)
                found |= references(variables)
            else:
                found |= references(value)
    return found


def unaccounted_properties(template: Mapping[str, Any]) -> list[str]:
    """Every (resource, property) of ``template`` the rehearsal neither creates nor applies nor gives a reason for."""
    resources = template["Resources"]
    not_created_by_moto = {logical_id for logical_id, spec in resources.items() if spec["Type"] in MOTO_CANNOT_CREATE}
    problems: list[str] = []
    for logical_id, spec in resources.items():
        resource_type = spec["Type"]
        if resource_type in MOTO_CANNOT_CREATE:
            continue
        if resource_type not in MOTO_KEEPS:
            problems.append(f"{logical_id}: moto's handling of {resource_type} is not recorded in MOTO_KEEPS")
            continue
        kept = MOTO_KEEPS[resource_type]
        for name, value in spec.get("Properties", {}).items():
            key = (resource_type, name)
            if key in DROPPED_PROPERTY_APPLIERS or key in NOT_CHECKED_HERE:
                continue
            if kept is not ALL_PROPERTIES and name not in kept:
                problems.append(f"{logical_id}.{name}: moto drops it and nothing applies it")
            elif references(value) & not_created_by_moto:
                problems.append(f"{logical_id}.{name}: refers to a resource moto cannot create, and is not re-applied")
    return problems


def disagreements(moto: Any, ours: Any, where: str) -> list[str]:
    """Where moto's resolution of a template value differs from the rehearsal's. moto leaves what it could not
    resolve as null or as the literal ${Name}: those places are not compared; every other one must be equal."""
    if moto is None or (isinstance(moto, str) and "${" in moto):
        return []
    if isinstance(moto, dict) and isinstance(ours, dict):
        return [
            problem
            for key in set(moto) | set(ours)
            for problem in (
                disagreements(moto[key], ours[key], f"{where}.{key}")
                if key in moto and key in ours
                else ([] if key not in moto else [f"{where}.{key}: only moto has it"])
            )
        ]
    if isinstance(moto, list) and isinstance(ours, list) and len(moto) == len(ours):
        return [
            problem
            for i, (m, o) in enumerate(zip(moto, ours, strict=True))
            for problem in disagreements(m, o, f"{where}[{i}]")
        ]
    return [] if moto == ours or str(moto) == str(ours) else [f"{where}: moto {moto!r}, rehearsal {ours!r}"]


# ---------------------------------------------------------------- attributes of what moto created
def _queue_attributes(client: ClientFactory, url: str) -> dict[str, str]:
    arn = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"Arn": arn, "QueueName": url.rsplit("/", 1)[-1], "QueueUrl": url}


_ATTRIBUTES: dict[str, Callable[[ClientFactory, str], dict[str, str]]] = {
    "AWS::S3::Bucket": lambda _client, name: {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"},
    "AWS::SQS::Queue": _queue_attributes,
    "AWS::SNS::Topic": lambda _client, arn: {"TopicArn": arn, "TopicName": arn.rsplit(":", 1)[-1]},
    # Not describe_key: moto keeps the CloudFormation key policy as a dict, and its own API then fails to read it.
    "AWS::KMS::Key": lambda _client, key_id: {
        "Arn": f"arn:aws:kms:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:key/{key_id}",
        "KeyId": key_id,
    },
    "AWS::Logs::LogGroup": lambda client, name: {
        "Arn": client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["arn"]
    },
    "AWS::Lambda::Function": lambda client, name: {
        "Arn": client("lambda").get_function_configuration(FunctionName=name)["FunctionArn"]
    },
    "AWS::IAM::Role": lambda client, name: {
        key: client("iam").get_role(RoleName=name)["Role"][key] for key in ("Arn", "RoleId")
    },
    "AWS::Events::Rule": lambda client, name: {"Arn": client("events").describe_rule(Name=name)["Arn"]},
    "AWS::StepFunctions::StateMachine": lambda client, arn: {
        "Arn": arn,
        "Name": client("stepfunctions").describe_state_machine(stateMachineArn=arn)["name"],
    },
    "AWS::DynamoDB::Table": lambda client, name: {
        "Arn": client("dynamodb").describe_table(TableName=name)["Table"]["TableArn"]
    },
}


# ---------------------------------------------------------------- what moto's CloudFormation cannot create
@dataclass(frozen=True)
class Creator:
    """Creates one resource type through its API (returns its !Ref value and !GetAtt attributes), and deletes it."""

    create: Callable[[RehearsedStack, str, dict[str, Any]], tuple[str, dict[str, str]]]
    delete: Callable[[RehearsedStack, ApiResource], None]


def _generated_name(stack: RehearsedStack, logical_id: str) -> str:
    """A physical name as CloudFormation makes one when the template gives none."""
    suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=12))
    return f"{stack.stack_name}-{logical_id}-{suffix}"


def _create_glue_database(stack: RehearsedStack, _logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, str]]:
    stack.client("glue").create_database(CatalogId=props["CatalogId"], DatabaseInput=props["DatabaseInput"])
    return props["DatabaseInput"]["Name"], {}


def _create_glue_table(stack: RehearsedStack, _logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, str]]:
    stack.client("glue").create_table(
        CatalogId=props["CatalogId"], DatabaseName=props["DatabaseName"], TableInput=props["TableInput"]
    )
    return props["TableInput"]["Name"], {}


def _create_glue_security_configuration(
    stack: RehearsedStack, _logical_id: str, props: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    encryption = dict(props["EncryptionConfiguration"])
    # The one name CloudFormation spells differently from the API: S3Encryptions (a list) is S3Encryption.
    encryption["S3Encryption"] = encryption.pop("S3Encryptions")
    stack.client("glue").create_security_configuration(Name=props["Name"], EncryptionConfiguration=encryption)
    return props["Name"], {}


def _create_glue_job(stack: RehearsedStack, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, str]]:
    job = {"Name": _generated_name(stack, logical_id)} | props
    stack.client("glue").create_job(**job)
    return job["Name"], {}


def _create_athena_workgroup(
    stack: RehearsedStack, _logical_id: str, props: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    athena = stack.client("athena")
    athena.create_work_group(
        Name=props["Name"], Description=props.get("Description", ""), Configuration=props["WorkGroupConfiguration"]
    )
    if props.get("State", "ENABLED") != "ENABLED":
        athena.update_work_group(WorkGroup=props["Name"], State=props["State"])
    return props["Name"], {}


def _create_alarm(stack: RehearsedStack, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, str]]:
    alarm = {"AlarmName": _generated_name(stack, logical_id)} | props
    stack.client("cloudwatch").put_metric_alarm(**alarm)
    arn = f"arn:aws:cloudwatch:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:alarm:{alarm['AlarmName']}"
    return alarm["AlarmName"], {"Arn": arn}


def _put_bucket_policy(stack: RehearsedStack, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """Put and read back, then taken away once the stack is complete (after the access-log bucket's policy has let
    the data bucket's logging be configured): moto's S3 evaluates a statement whose condition it cannot evaluate
    as a Deny whatever its Effect (moto.iam.access_control.IAMPolicyStatement), so the template's TLS-only Deny
    would refuse every request; AWS applies it to plain-HTTP requests only (the README's honest limits say so)."""
    s3 = stack.client("s3")
    s3.put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"]))
    if json.loads(s3.get_bucket_policy(Bucket=props["Bucket"])["Policy"]) != props["PolicyDocument"]:
        raise AssertionError(f"{logical_id}: the bucket policy read back differs from the template's")
    stack.when_complete.append(lambda: s3.delete_bucket_policy(Bucket=props["Bucket"]))
    return logical_id, {}


def _put_topic_policy(stack: RehearsedStack, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, str]]:
    for topic_arn in props["Topics"]:
        stack.client("sns").set_topic_attributes(
            TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"])
        )
    return logical_id, {}


def _put_queue_policy(stack: RehearsedStack, logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, str]]:
    for queue_url in props["Queues"]:
        stack.client("sqs").set_queue_attributes(
            QueueUrl=queue_url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )
    return logical_id, {}


def _subscribe(stack: RehearsedStack, _logical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, str]]:
    arn = stack.client("sns").subscribe(
        TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"], ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    return str(arn), {}


def _put_event_invoke_config(
    stack: RehearsedStack, logical_id: str, props: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    stack.client("lambda").put_function_event_invoke_config(**props)
    return logical_id, {}


def _no_delete(_stack: RehearsedStack, _resource: ApiResource) -> None:
    """Its owner (a bucket, topic, queue) carries it and goes with the stack, or is retained with it."""


MOTO_CANNOT_CREATE = frozenset(
    {
        "AWS::Athena::WorkGroup",
        "AWS::CloudWatch::Alarm",
        "AWS::Glue::Database",
        "AWS::Glue::Job",
        "AWS::Glue::SecurityConfiguration",
        "AWS::Glue::Table",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::S3::BucketPolicy",
        "AWS::SNS::Subscription",
        "AWS::SNS::TopicPolicy",
        "AWS::SQS::QueuePolicy",
    }
)

_CREATORS: dict[str, Creator] = {
    "AWS::Glue::Database": Creator(
        _create_glue_database, lambda stack, r: stack.client("glue").delete_database(Name=r.physical_id)
    ),
    "AWS::Glue::Table": Creator(
        _create_glue_table,
        lambda stack, r: stack.client("glue").delete_table(
            DatabaseName=r.properties["DatabaseName"], Name=r.physical_id
        ),
    ),
    "AWS::Glue::SecurityConfiguration": Creator(
        _create_glue_security_configuration,
        lambda stack, r: stack.client("glue").delete_security_configuration(Name=r.physical_id),
    ),
    "AWS::Glue::Job": Creator(
        _create_glue_job, lambda stack, r: stack.client("glue").delete_job(JobName=r.physical_id)
    ),
    "AWS::Athena::WorkGroup": Creator(
        _create_athena_workgroup,
        lambda stack, r: stack.client("athena").delete_work_group(
            WorkGroup=r.physical_id, RecursiveDeleteOption=bool(r.properties.get("RecursiveDeleteOption", False))
        ),
    ),
    "AWS::CloudWatch::Alarm": Creator(
        _create_alarm, lambda stack, r: stack.client("cloudwatch").delete_alarms(AlarmNames=[r.physical_id])
    ),
    "AWS::S3::BucketPolicy": Creator(_put_bucket_policy, _no_delete),
    "AWS::SNS::TopicPolicy": Creator(_put_topic_policy, _no_delete),
    "AWS::SQS::QueuePolicy": Creator(_put_queue_policy, _no_delete),
    "AWS::SNS::Subscription": Creator(
        _subscribe, lambda stack, r: stack.client("sns").unsubscribe(SubscriptionArn=r.physical_id)
    ),
    "AWS::Lambda::EventInvokeConfig": Creator(
        _put_event_invoke_config,
        lambda stack, r: stack.client("lambda").delete_function_event_invoke_config(
            FunctionName=r.properties["FunctionName"], Qualifier=r.properties["Qualifier"]
        ),
    ),
}
assert set(_CREATORS) == MOTO_CANNOT_CREATE


# ---------------------------------------------------------------- what moto's CloudFormation drops
Applier = Callable[[RehearsedStack, str, Any], None]


def _bucket(stack: RehearsedStack, logical_id: str) -> str:
    return stack.physical_id(logical_id)


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the API's shape (the two name several fields differently)."""
    unknown = set(rule) - {
        "Id",
        "Status",
        "Prefix",
        "ExpirationInDays",
        "NoncurrentVersionExpiration",
        "AbortIncompleteMultipartUpload",
    }
    if unknown:
        raise NotImplementedError(f"lifecycle rule fields not translated for the rehearsal: {sorted(unknown)}")
    api_rule: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {}}
    if "Prefix" in rule:
        api_rule["Filter"] = {"Prefix": rule["Prefix"]}
    if "ExpirationInDays" in rule:
        api_rule["Expiration"] = {"Days": rule["ExpirationInDays"]}
    for same in ("NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload"):
        if same in rule:
            api_rule[same] = rule[same]
    return api_rule


def _notification_configuration(value: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration in the API's shape."""
    shapes = {
        "LambdaConfigurations": ("LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
        "QueueConfigurations": ("QueueConfigurations", "Queue", "QueueArn"),
        "TopicConfigurations": ("TopicConfigurations", "Topic", "TopicArn"),
    }
    unknown = set(value) - set(shapes)
    if unknown:
        raise NotImplementedError(f"notification kinds not translated for the rehearsal: {sorted(unknown)}")
    api: dict[str, Any] = {}
    for kind, configurations in value.items():
        api_kind, target, api_target = shapes[kind]
        api[api_kind] = [
            {
                api_target: configuration[target],
                "Events": [configuration["Event"]],
                **(
                    {"Filter": {"Key": {"FilterRules": configuration["Filter"]["S3Key"]["Rules"]}}}
                    if "Filter" in configuration
                    else {}
                ),
            }
            for configuration in configurations
        ]
    return api


def _state_machine_definition(stack: RehearsedStack, logical_id: str, substitutions: Mapping[str, Any]) -> None:
    """The definition as deployed: DefinitionString with every DefinitionSubstitutions value put in."""
    definition = str(stack.resolver.resolve(stack.resources[logical_id]["Properties"]["DefinitionString"]))
    kept = stack.client("stepfunctions").describe_state_machine(stateMachineArn=stack.physical_id(logical_id))
    if kept["definition"] != definition:
        stack.disagreements.append(f"{logical_id}.DefinitionString differs from moto's")
    for name, value in substitutions.items():
        definition = definition.replace("${" + name + "}", str(value))
    stack.client("stepfunctions").update_state_machine(
        stateMachineArn=stack.physical_id(logical_id), definition=definition
    )


def _state_machine_logging(stack: RehearsedStack, logical_id: str, value: Mapping[str, Any]) -> None:
    stack.client("stepfunctions").update_state_machine(
        stateMachineArn=stack.physical_id(logical_id),
        loggingConfiguration={
            "level": value["Level"],
            "includeExecutionData": value["IncludeExecutionData"],
            "destinations": [
                {"cloudWatchLogsLogGroup": {"logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
                for d in value["Destinations"]
            ],
        },
    )


def _expect_state_machine_type(stack: RehearsedStack, logical_id: str, value: str) -> None:
    described = stack.client("stepfunctions").describe_state_machine(stateMachineArn=stack.physical_id(logical_id))
    if described["type"] != value:  # moto creates STANDARD machines; there is no API to change the type
        raise AssertionError(f"{logical_id} is {described['type']}, the template says {value}")


def _tag_lambda(stack: RehearsedStack, logical_id: str, tags: Iterable[Mapping[str, str]]) -> None:
    stack.client("lambda").tag_resource(
        Resource=stack.attribute(logical_id, "Arn"), Tags={tag["Key"]: tag["Value"] for tag in tags}
    )


def policy_json(document: Mapping[str, Any]) -> str:
    """A policy document for moto's IAM, which validates it as IAM does except that it refuses one without a
    Version (IAM reads that as 2008-10-17, as SAM's generated statements are). The two versions differ only in
    policy variables, so a document without a Version must not use any."""
    text = json.dumps(document)
    if "Version" not in document:
        if "${aws:" in text:
            raise AssertionError(f"a policy without a Version uses a policy variable IAM would not resolve: {text}")
        text = json.dumps({"Version": "2012-10-17"} | dict(document))
    return text


def _put_role_policies(stack: RehearsedStack, logical_id: str, policies: Iterable[Mapping[str, Any]]) -> None:
    iam, role = stack.client("iam"), stack.physical_id(logical_id)
    for policy in policies:
        kept = iam.get_role_policy(RoleName=role, PolicyName=policy["PolicyName"])["PolicyDocument"]
        kept = ast.literal_eval(kept) if isinstance(kept, str) else kept  # moto keeps Python's repr of the dict
        stack.disagreements += disagreements(
            kept, dict(policy["PolicyDocument"]), f"{logical_id}.{policy['PolicyName']}"
        )
        stack.client("iam").put_role_policy(
            RoleName=stack.physical_id(logical_id),
            PolicyName=policy["PolicyName"],
            PolicyDocument=policy_json(policy["PolicyDocument"]),
        )


def _put_policy_on_roles(stack: RehearsedStack, logical_id: str, document: Mapping[str, Any]) -> None:
    properties = stack.properties(logical_id)
    for role in properties.get("Roles", []):
        stack.client("iam").put_role_policy(
            RoleName=role, PolicyName=properties["PolicyName"], PolicyDocument=policy_json(document)
        )


def _attach_managed_policies(stack: RehearsedStack, logical_id: str, arns: Iterable[str]) -> None:
    iam, role = stack.client("iam"), stack.physical_id(logical_id)
    for arn in arns:  # moto knows AWS's managed policies: an ARN that does not exist is refused
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        # CloudFormation detaches them when it deletes the role; moto's refuses to delete an attached role
        stack.before_delete.append(lambda arn=arn: iam.detach_role_policy(RoleName=role, PolicyArn=arn))


def _put_rule_pattern(stack: RehearsedStack, logical_id: str, pattern: Any) -> None:
    rule = stack.client("events").describe_rule(Name=stack.physical_id(logical_id))
    stack.disagreements += disagreements(json.loads(rule["EventPattern"]), pattern, f"{logical_id}.EventPattern")
    stack.client("events").put_rule(
        Name=rule["Name"],
        EventPattern=json.dumps(pattern),
        **({"Description": rule["Description"]} if rule.get("Description") else {}),
    )


def _lambda_configuration(name: str) -> Applier:
    def apply(stack: RehearsedStack, logical_id: str, value: Any) -> None:
        if name == "Environment":
            value = {"Variables": {key: str(item) for key, item in value.get("Variables", {}).items()}}
            kept = stack.client("lambda").get_function_configuration(FunctionName=stack.physical_id(logical_id))
            stack.disagreements += disagreements(
                kept.get("Environment", {}).get("Variables", {}), value["Variables"], f"{logical_id}.Environment"
            )
        stack.client("lambda").update_function_configuration(
            FunctionName=stack.physical_id(logical_id), **{name: value}
        )

    return apply


def _put_dashboard_body(stack: RehearsedStack, logical_id: str, body: str) -> None:
    """The body as the stack resolves it. moto's !Sub leaves the names of what it could not create (the alarms, the
    Glue job) as the literal ${Name}; everywhere else the two resolutions must agree."""
    cloudwatch, name = stack.client("cloudwatch"), stack.physical_id(logical_id)
    kept = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
    stack.disagreements += disagreements(kept, json.loads(body), f"{logical_id}.DashboardBody")
    cloudwatch.put_dashboard(DashboardName=name, DashboardBody=body)


DROPPED_PROPERTY_APPLIERS: dict[tuple[str, str], Applier] = {
    ("AWS::CloudWatch::Dashboard", "DashboardBody"): _put_dashboard_body,
    ("AWS::S3::Bucket", "VersioningConfiguration"): lambda stack, logical_id, value: stack.client(
        "s3"
    ).put_bucket_versioning(Bucket=_bucket(stack, logical_id), VersioningConfiguration=value),
    ("AWS::S3::Bucket", "PublicAccessBlockConfiguration"): lambda stack, logical_id, value: stack.client(
        "s3"
    ).put_public_access_block(Bucket=_bucket(stack, logical_id), PublicAccessBlockConfiguration=value),
    ("AWS::S3::Bucket", "OwnershipControls"): lambda stack, logical_id, value: stack.client(
        "s3"
    ).put_bucket_ownership_controls(Bucket=_bucket(stack, logical_id), OwnershipControls=value),
    ("AWS::S3::Bucket", "LoggingConfiguration"): lambda stack, logical_id, value: stack.client("s3").put_bucket_logging(
        Bucket=_bucket(stack, logical_id),
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": value["DestinationBucketName"], "TargetPrefix": value["LogFilePrefix"]}
        },
    ),
    ("AWS::S3::Bucket", "LifecycleConfiguration"): lambda stack, logical_id, value: stack.client(
        "s3"
    ).put_bucket_lifecycle_configuration(
        Bucket=_bucket(stack, logical_id),
        LifecycleConfiguration={"Rules": [_lifecycle_rule(rule) for rule in value["Rules"]]},
    ),
    ("AWS::S3::Bucket", "NotificationConfiguration"): lambda stack, logical_id, value: stack.client(
        "s3"
    ).put_bucket_notification_configuration(
        Bucket=_bucket(stack, logical_id), NotificationConfiguration=_notification_configuration(value)
    ),
    # Kept, but a !Ref to a resource moto cannot create (GLUE_DATABASE) came out as nothing.
    ("AWS::Lambda::Function", "Environment"): _lambda_configuration("Environment"),
    # Accepted by moto's API and validated by botocore, but not kept: checked on the translated template.
    ("AWS::Lambda::Function", "ImageConfig"): _lambda_configuration("ImageConfig"),
    ("AWS::Lambda::Function", "TracingConfig"): _lambda_configuration("TracingConfig"),
    ("AWS::Lambda::Function", "LoggingConfig"): _lambda_configuration("LoggingConfig"),
    ("AWS::Lambda::Function", "Tags"): _tag_lambda,
    ("AWS::KMS::Key", "KeyPolicy"): lambda stack, logical_id, value: stack.client("kms").put_key_policy(
        KeyId=stack.physical_id(logical_id), PolicyName="default", Policy=json.dumps(value)
    ),
    ("AWS::IAM::Role", "Policies"): _put_role_policies,
    ("AWS::IAM::Role", "ManagedPolicyArns"): _attach_managed_policies,
    ("AWS::IAM::Role", "Tags"): lambda stack, logical_id, tags: stack.client("iam").tag_role(
        RoleName=stack.physical_id(logical_id), Tags=tags
    ),
    ("AWS::IAM::Policy", "PolicyDocument"): _put_policy_on_roles,
    ("AWS::DynamoDB::Table", "TimeToLiveSpecification"): lambda stack, logical_id, value: stack.client(
        "dynamodb"
    ).update_time_to_live(TableName=stack.physical_id(logical_id), TimeToLiveSpecification=value),
    ("AWS::DynamoDB::Table", "PointInTimeRecoverySpecification"): lambda stack, logical_id, value: stack.client(
        "dynamodb"
    ).update_continuous_backups(TableName=stack.physical_id(logical_id), PointInTimeRecoverySpecification=value),
    # moto keeps DefinitionString but drops the substitutions: the placeholders would stay in the definition.
    ("AWS::StepFunctions::StateMachine", "DefinitionSubstitutions"): _state_machine_definition,
    ("AWS::StepFunctions::StateMachine", "LoggingConfiguration"): _state_machine_logging,
    ("AWS::StepFunctions::StateMachine", "TracingConfiguration"): lambda stack, logical_id, value: stack.client(
        "stepfunctions"
    ).update_state_machine(
        stateMachineArn=stack.physical_id(logical_id), tracingConfiguration={"enabled": value["Enabled"]}
    ),
    ("AWS::StepFunctions::StateMachine", "StateMachineType"): _expect_state_machine_type,
    ("AWS::StepFunctions::StateMachine", "Tags"): lambda stack, logical_id, tags: stack.client(
        "stepfunctions"
    ).tag_resource(
        resourceArn=stack.physical_id(logical_id), tags=[{"key": t["Key"], "value": t["Value"]} for t in tags]
    ),
    # Kept, but the job name (a !Ref to the Glue job) came out as null.
    ("AWS::Events::Rule", "EventPattern"): _put_rule_pattern,
}


_SCALARS: dict[str, Callable[[str], Any]] = {
    "integer": int,
    "long": int,
    "double": float,
    "float": float,
    "boolean": lambda text: {"true": True, "false": False}.get(text.lower(), text),
}


def coerced(value: Any, shape: Any) -> Any:
    """``value`` in the type the API's model gives ``shape``, as CloudFormation hands resource properties over:
    a !Ref to a Number parameter is a string ("1073741824") until the resource's schema types it."""
    kind = getattr(shape, "type_name", None)
    if kind == "structure" and isinstance(value, dict):
        value = {key: coerced(item, shape.members.get(key)) for key, item in value.items()}
    elif kind == "list" and isinstance(value, list):
        value = [coerced(item, shape.member) for item in value]
    elif kind == "map" and isinstance(value, dict):
        value = {key: coerced(item, shape.value) for key, item in value.items()}
    elif isinstance(value, str) and kind in _SCALARS:
        value = _SCALARS[kind](value)
    return value


class CoercingClient:
    """A boto3 client whose calls type their arguments by the service's model before botocore validates them."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        operation = self._client.meta.method_to_api_mapping.get(name)
        if operation is None:
            return attribute
        shape = self._client.meta.service_model.operation_model(operation).input_shape

        def call(**arguments: Any) -> Any:
            return attribute(**coerced(arguments, shape))

        return call


@functools.cache
def session_client(endpoint_url: str) -> ClientFactory:
    """Clients of the moto server at ``endpoint_url`` (credentials and region from the test environment), made once
    per process: loading a service's model costs more than a whole stack creation."""
    session = boto3.Session(region_name=LOCAL_REGION)
    clients: dict[str, Any] = {}

    def client(service_name: str) -> Any:
        if service_name not in clients:
            clients[service_name] = CoercingClient(session.client(service_name, endpoint_url=endpoint_url))  # type: ignore[call-overload]
        return clients[service_name]

    return client
