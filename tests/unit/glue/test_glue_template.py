"""The Glue job, its role, the weather tables and the Athena workgroup as template.yaml declares them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from lakepipe.domain.weather.cities import parse_cities
from tests.conftest import REPO_ROOT
from weather_etl import JOB_ARGUMENTS, REFINED_COLUMNS, REFINED_PARTITION_COLUMNS, REJECT_COLUMNS

# Everything but the CSV path names the data bucket by reference (tests/unit/test_deployability.py checks the rest).
BUCKET = "${DataBucket}"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml_parse((REPO_ROOT / "template.yaml").read_text())
    return parsed


def properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    resource: dict[str, Any] = template["Resources"][logical_id]
    return dict(resource["Properties"])


def sub(value: Any) -> str:
    """The template string of a !Sub, or the literal."""
    return str(value["Fn::Sub"]) if isinstance(value, dict) else str(value)


def test_the_job_is_glue_5_1_spark_with_the_script_sam_packages(template: dict[str, Any]) -> None:
    job = properties(template, "WeatherEtlJob")

    assert job["GlueVersion"] == "5.1"
    assert job["Command"] == {"Name": "glueetl", "PythonVersion": "3", "ScriptLocation": "glue/weather_etl.py"}
    assert (REPO_ROOT / job["Command"]["ScriptLocation"]).is_file()
    assert job["WorkerType"] == {"Ref": "GlueWorkerType"}
    assert job["NumberOfWorkers"] == {"Ref": "GlueNumberOfWorkers"}
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert job["SecurityConfiguration"] == {"Ref": "WeatherEtlSecurityConfiguration"}


def test_default_arguments_follow_contract_3_and_bookmarks_are_off(template: dict[str, Any]) -> None:
    arguments = properties(template, "WeatherEtlJob")["DefaultArguments"]

    assert sub(arguments["--landing_path"]) == f"s3://{BUCKET}/landing/weather/source=open-meteo/"
    assert sub(arguments["--refined_path"]) == f"s3://{BUCKET}/refined/weather_hourly/"
    assert sub(arguments["--rejects_path"]) == f"s3://{BUCKET}/refined/weather_rejects/"
    assert sub(arguments["--lookback_days"]) == "${GlueLookbackDays}"
    # the per-run arguments come from the manifest, every other one the job reads is a default
    assert {f"--{name}" for name in JOB_ARGUMENTS} - set(arguments) == {"--run_id", "--ingest_date"}
    assert arguments["--job-bookmark-option"] == "job-bookmark-disable"
    assert arguments["--enable-metrics"] == "true"


def test_glue_5_logs_go_to_the_jobs_own_log_groups_with_the_stacks_retention(template: dict[str, Any]) -> None:
    # Given Glue 5's logging: every job logs in real time to <--custom-logGroup-prefix>/error and /output
    # (AWS Glue "Logging for AWS Glue jobs"); --enable-continuous-cloudwatch-log is a Glue 4.0-and-earlier option
    job = properties(template, "WeatherEtlJob")
    arguments = job["DefaultArguments"]
    assert float(job["GlueVersion"]) >= 5
    assert "--enable-continuous-cloudwatch-log" not in arguments
    prefix = sub(arguments["--custom-logGroup-prefix"])
    # the documented prefix rules: at most 400 characters matching [^:*]*; under /aws-glue/ for the service role
    assert re.fullmatch(r"[^:*]{1,400}", prefix)
    assert prefix.startswith("/aws-glue/")

    # Then both log groups the job writes to exist in the stack, with the retention every other log group has
    groups = {
        sub(spec["Properties"]["LogGroupName"]): spec["Properties"]
        for spec in template["Resources"].values()
        if spec["Type"] == "AWS::Logs::LogGroup" and "LogGroupName" in spec["Properties"]
    }
    for suffix in ("error", "output"):
        assert groups[f"{prefix}/{suffix}"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_job_role_reaches_only_its_prefixes(template: dict[str, Any]) -> None:
    role = properties(template, "WeatherEtlJobRole")
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    s3_statements = [s for s in statements if all(a.startswith("s3:") for a in as_list(s["Action"]))]
    object_arn = "${DataBucket.Arn}"

    assert "ManagedPolicyArns" not in role
    objects = [s for s in s3_statements if s["Action"] not in ("s3:ListBucket", "s3:GetBucketLocation")]
    assert {sub(r) for s in objects for r in as_list(s["Resource"])} == {
        "arn:${AWS::Partition}:s3:::aws-sam-cli-managed-default-samclisourcebucket-*/${AWS::StackName}/*",
        f"{object_arn}/landing/weather/*",
        f"{object_arn}/refined/weather_hourly*",
        f"{object_arn}/refined/weather_rejects*",
    }
    writes = [s for s in s3_statements if "s3:PutObject" in as_list(s["Action"])]
    assert [sorted(sub(r) for r in as_list(s["Resource"])) for s in writes] == [
        [f"{object_arn}/refined/weather_hourly*", f"{object_arn}/refined/weather_rejects*"]
    ]
    (listing,) = [s for s in s3_statements if s["Action"] == "s3:ListBucket"]
    assert listing["Resource"] == {"Fn::GetAtt": ["DataBucket", "Arn"]}
    assert listing["Condition"] == {
        "StringLike": {
            "s3:prefix": ["landing/weather/*", "refined/", "refined/weather_hourly*", "refined/weather_rejects*"]
        }
    }


def test_the_job_role_logs_and_measures_only_as_its_own(template: dict[str, Any]) -> None:
    role = properties(template, "WeatherEtlJobRole")
    statements = {s["Sid"]: s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]}
    log_groups = [
        sub(properties(template, logical_id)["LogGroupName"])
        for logical_id in ("WeatherEtlErrorLogGroup", "WeatherEtlOutputLogGroup")
    ]
    prefix = sub(properties(template, "WeatherEtlJob")["DefaultArguments"]["--custom-logGroup-prefix"])

    # Glue 5 writes to <prefix>/error and <prefix>/output: the stack creates both, with its retention
    assert log_groups == [f"{prefix}/error", f"{prefix}/output"]
    logs = statements["WriteTheJobsLogs"]
    assert sub(logs["Resource"]) == (
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:" + prefix + "/*"
    )
    # PutMetricData takes no resource; the documented cloudwatch:namespace condition keeps it to Glue's metrics
    metrics = statements["PublishGlueMetrics"]
    assert (metrics["Action"], metrics["Resource"]) == ("cloudwatch:PutMetricData", "*")
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Glue"}}
    assert not any(a.startswith(("ec2:", "iam:")) for s in statements.values() for a in as_list(s["Action"]))


def test_table_columns_are_the_jobs_columns(template: dict[str, Any]) -> None:
    for logical_id, columns, partitions in (
        ("WeatherHourlyTable", REFINED_COLUMNS, REFINED_PARTITION_COLUMNS),
        ("WeatherRejectsTable", REJECT_COLUMNS, ("ingest_date",)),
    ):
        table = properties(template, logical_id)["TableInput"]
        declared = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        assert declared == [(name, data_type.simpleString()) for name, data_type in columns], logical_id
        assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [(name, "string") for name in partitions]


def test_partitions_are_projected_for_every_partition_key(template: dict[str, Any]) -> None:
    for logical_id in ("WeatherHourlyTable", "WeatherRejectsTable"):
        table = properties(template, logical_id)["TableInput"]
        parameters = table["Parameters"]
        location = sub(table["StorageDescriptor"]["Location"])
        keys = [key["Name"] for key in table["PartitionKeys"]]

        assert parameters["projection.enabled"] == "true"
        assert {
            name.split(".")[1] for name in parameters if name.startswith("projection.") and name.count(".") > 1
        } == set(keys)
        assert sub(parameters["storage.location.template"]) == location + "".join(f"{k}=${{!{k}}}/" for k in keys)
        for key in keys:
            if parameters[f"projection.{key}.type"] == "date":
                assert parameters[f"projection.{key}.format"] == "yyyy-MM-dd"
                assert re.fullmatch(
                    r"\$\{WeatherTableFirstDate\},NOW(\+\d+DAYS)?", sub(parameters[f"projection.{key}.range"])
                )


def test_forecast_dates_are_projected_and_cities_are_the_ingested_ones(template: dict[str, Any]) -> None:
    parameters = properties(template, "WeatherHourlyTable")["TableInput"]["Parameters"]
    template_parameters = template["Parameters"]

    # Open-Meteo forecasts up to 16 days ahead: those partitions must be visible before their day comes
    assert sub(parameters["projection.date.range"]).endswith("NOW+16DAYS")
    assert parameters["projection.city.type"] == "enum"
    # one list of cities for Athena and the function (tests/unit/weather/test_ingest_weather_settings.py)
    assert parameters["projection.city.values"] == {"Ref": "Cities"}
    assert "WeatherTableCities" not in template_parameters
    # and the default coordinates place exactly the default cities
    placed = {city.key_name for city in parse_cities(template_parameters["CityCoordinates"]["Default"])}
    assert set(template_parameters["Cities"]["Default"].split(",")) == placed


def test_the_workgroup_enforces_encrypted_results_a_scan_cutoff_and_metrics(template: dict[str, Any]) -> None:
    workgroup = properties(template, "AthenaWorkGroup")
    configuration = workgroup["WorkGroupConfiguration"]

    assert sub(workgroup["Name"]) == "lakepipe-${Stage}"
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["PublishCloudWatchMetricsEnabled"] is True
    assert configuration["BytesScannedCutoffPerQuery"] == {"Ref": "AthenaBytesScannedCutoff"}
    assert configuration["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}
    results = configuration["ResultConfiguration"]
    assert sub(results["OutputLocation"]) == f"s3://{BUCKET}/athena-results/"
    assert results["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}


def test_outputs_name_the_job_the_tables_and_the_workgroup(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]

    assert outputs["WeatherEtlJobName"]["Value"] == {"Ref": "WeatherEtlJob"}
    assert outputs["WeatherHourlyTableName"]["Value"] == {"Ref": "WeatherHourlyTable"}
    assert outputs["WeatherRejectsTableName"]["Value"] == {"Ref": "WeatherRejectsTable"}
    assert outputs["AthenaWorkGroupName"]["Value"] == {"Ref": "AthenaWorkGroup"}


def test_the_state_machine_may_publish_exactly_the_views_in_sql_views(template: dict[str, Any]) -> None:
    # Given the views the pipeline's PublishViews step creates (one per sql/views/*.sql, named after the file)
    views = {path.stem for path in (REPO_ROOT / "sql" / "views").glob("*.sql")}
    policies = properties(template, "WeatherPipelineStateMachine")["Policies"]
    statements = [statement for policy in policies for statement in policy.get("Statement", [])]
    (publish,) = [statement for statement in statements if statement.get("Sid") == "PublishTheViews"]

    # Then the role may create and replace those tables, and no other
    tables = {sub(resource).rsplit("/", 1)[-1] for resource in publish["Resource"] if "table/" in sub(resource)}
    assert tables == views
    assert set(publish["Action"]) == {"glue:GetTable", "glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable"}
