"""The large-file path in the template: the work bucket, the Standard state machine (Partition -> Distributed Map
reading a manifest -> Finish) with its timeouts, logs and tracing, its three functions and their least-privilege
roles, its alarm."""

import json
from typing import Any, cast

import pytest
from aws_cdk.assertions import Capture, Template

from csv_ingest_engine.constants import HANDLER_FINISH, HANDLER_INGEST_PARTITION, HANDLER_PARTITION
from tests.infra.logical_ids import (
    ACCESS_LOGS_BUCKET_ID,
    REJECTS_BUCKET_ID,
    STATE_MACHINE_ID,
    TABLE_ID,
    UPLOAD_BUCKET_ID,
    WORK_BUCKET_ID,
)
from tests.infra.test_pipeline_template import as_list, cfn_text, function_logical_id, properties, single_resource

TASK_HANDLERS = [HANDLER_PARTITION, HANDLER_INGEST_PARTITION, HANDLER_FINISH]
# What publishing a file's outcome takes: its tags (read, then written) and the event on the default bus.
OUTCOME_TAGGING = [
    "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
]
DEFAULT_BUS_ARN = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":events:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":event-bus/default",
        ],
    ]
}
PUTS_OUTCOME_EVENTS = {"Effect": "Allow", "Action": "events:PutEvents", "Resource": DEFAULT_BUS_ARN}
THROTTLE_ERRORS = ["Lambda.TooManyRequestsException"]
THROTTLE_RETRY = {
    "ErrorEquals": THROTTLE_ERRORS,
    "IntervalSeconds": 2,
    "MaxAttempts": 720,
    "BackoffRate": 2,
    "MaxDelaySeconds": 60,
    "JitterStrategy": "FULL",
}
SERVICE_ERROR_RETRY = {  # CDK's LambdaInvoke default
    "ErrorEquals": [
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
    ],
    "IntervalSeconds": 2,
    "MaxAttempts": 6,
    "BackoffRate": 2,
}


def objects_of(bucket_id: str) -> dict[str, Any]:
    return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]}


def task_function_id(template: Template, handler: str) -> str:
    """The function that runs `handler.<handler>`."""
    return single_resource(template, "AWS::Lambda::Function", {"Handler": f"handler.{handler}"})[0]


def definition(template: Template) -> dict[str, Any]:
    """The state machine's definition, each function ARN written as ${FunctionLogicalId.Arn}."""
    text = cfn_text(properties(template, STATE_MACHINE_ID)["DefinitionString"])
    return cast(dict[str, Any], json.loads(text))


def states(template: Template) -> dict[str, Any]:
    """Every state by name, the Map's item processor's included."""
    top = definition(template)["States"]
    return {**top, **top["Ingest"]["ItemProcessor"]["States"]}


def role_statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    """Every statement of every IAM policy attached to `role_id`, in a canonical order."""
    policies = template.find_resources("AWS::IAM::Policy")
    statements = [
        statement
        for policy in policies.values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    return canonical(statements)


def canonical(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(statements, key=lambda s: json.dumps(s, sort_keys=True))


def function_role_id(template: Template, function_id: str) -> str:
    return cast(str, properties(template, function_id)["Role"]["Fn::GetAtt"][0])


def function_log_group_id(template: Template, function_id: str) -> str:
    return cast(str, properties(template, function_id)["LoggingConfig"]["LogGroup"]["Ref"])


def writes_own_logs(template: Template, function_id: str) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": {"Fn::GetAtt": [function_log_group_id(template, function_id), "Arn"]},
    }


def task_role_statements(template: Template, handler: str) -> tuple[str, list[dict[str, Any]]]:
    function_id = task_function_id(template, handler)
    return function_id, role_statements(template, function_role_id(template, function_id))


# -- the state machine ----------------------------------------------------------------------------------------


def test_state_machine_is_standard(template: Template) -> None:
    """A Standard state machine: executions may run past Express's 5 minutes and keep a redrivable history."""
    assert properties(template, STATE_MACHINE_ID)["StateMachineType"] == "STANDARD"


def test_definition_partitions_then_ingests_then_finishes(template: Template) -> None:
    """Partition -> Ingest -> Finish, Finish ends the execution, and nothing else runs at the top level."""
    asl = definition(template)
    assert asl["StartAt"] == "Partition"
    assert {name: state.get("Next", "end" if state.get("End") else None) for name, state in asl["States"].items()} == {
        "Partition": "Ingest",
        "Ingest": "Finish",
        "Finish": "end",
    }


@pytest.mark.parametrize(
    ("state_name", "handler"),
    [("Partition", HANDLER_PARTITION), ("IngestPartition", HANDLER_INGEST_PARTITION), ("Finish", HANDLER_FINISH)],
)
def test_each_task_invokes_its_entry_point_with_the_state_as_its_event(
    template: Template, state_name: str, handler: str
) -> None:
    """Each task calls its function directly (payload_response_only): the state is the event, the return the
    result (Partition's kept at $.run, beside the execution's input), with no Parameters or ResultSelector."""
    state = states(template)[state_name]
    assert state["Type"] == "Task"
    assert state["Resource"] == "${" + task_function_id(template, handler) + ".Arn}"
    assert state.get("ResultPath") == ("$.run" if state_name == "Partition" else None)
    assert not {"Parameters", "ResultSelector", "InputPath", "OutputPath"} & set(state)


@pytest.mark.parametrize("state_name", ["Partition", "IngestPartition", "Finish"])
def test_every_task_retries_lambda_service_errors_and_throttles(template: Template, state_name: str) -> None:
    """CDK's retry on Lambda's service errors, then a jittered backoff on throttles (capped at a minute, for hours)."""
    assert states(template)[state_name]["Retry"] == [SERVICE_ERROR_RETRY, THROTTLE_RETRY]


def test_a_throttled_task_waits_about_as_long_as_an_upload_waits_for_the_trigger(template: Template) -> None:
    """A worker throttled by the workers' reservation (other executions' partitions hold it) keeps trying for about
    6 hours on average, the trigger's maximum event age, before its partition fails."""
    (throttle,) = [r for r in states(template)["IngestPartition"]["Retry"] if r["ErrorEquals"] == THROTTLE_ERRORS]
    # Full jitter: each wait is uniform between 0 and the capped backoff, half of it on average.
    waits = [
        min(throttle["IntervalSeconds"] * throttle["BackoffRate"] ** n, throttle["MaxDelaySeconds"]) / 2
        for n in range(throttle["MaxAttempts"])
    ]
    event_age = properties(template, single_resource(template, "AWS::Lambda::EventInvokeConfig")[0])[
        "MaximumEventAgeInSeconds"
    ]
    assert event_age == 6 * 3600
    assert 0.95 * event_age <= sum(waits) <= 1.05 * event_age
    assert max(waits) * 2 <= 60  # a freed worker is taken within a minute


def test_the_worker_function_reserves_max_workers_by_default(template: Template) -> None:
    """The workers of every execution together run at most max_workers (4) at once: one bound on the table's
    writers, whatever the number of large uploads."""
    worker = properties(template, task_function_id(template, HANDLER_INGEST_PARTITION))
    assert worker["ReservedConcurrentExecutions"] == 4


def test_worker_reserved_concurrency_context_sets_the_workers_reservation(custom_template: Template) -> None:
    """worker_reserved_concurrency=24 (with max_workers=16) reserves 24 invocations for the workers."""
    worker = properties(custom_template, task_function_id(custom_template, HANDLER_INGEST_PARTITION))
    assert worker["ReservedConcurrentExecutions"] == 24


@pytest.mark.parametrize("handler", [HANDLER_PARTITION, HANDLER_FINISH])
def test_partition_and_finish_reserve_nothing(template: Template, handler: str) -> None:
    """Partition and Finish write nothing to the table and run once per execution: no reservation of their own."""
    assert "ReservedConcurrentExecutions" not in properties(template, task_function_id(template, handler))


def test_ingest_is_a_distributed_map_reading_the_runs_manifest(template: Template) -> None:
    """A DISTRIBUTED Map of Standard child executions whose items are the JSON manifest Partition names ($.run.items,
    in the work bucket: not the state), each worker given the whole state and its item, four at once by default,
    every failure tolerated (Finish counts who reported), what workers return written to the work bucket and the
    Map's own result discarded."""
    ingest = definition(template)["States"]["Ingest"]
    assert {key: value for key, value in ingest.items() if key not in ("ItemProcessor", "Next", "Catch")} == {
        "Type": "Map",
        "ItemReader": {
            "Resource": "arn:${AWS::Partition}:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": "${" + WORK_BUCKET_ID + "}", "Key.$": "$.run.items"},
        },
        "ItemSelector": {"job.$": "$", "partition.$": "$$.Map.Item.Value"},
        "MaxConcurrency": 4,
        "ToleratedFailurePercentage": 100,
        "ResultWriter": {
            "Resource": "arn:${AWS::Partition}:states:::s3:putObject",
            "Parameters": {"Bucket": "${" + WORK_BUCKET_ID + "}", "Prefix": "map-results"},
        },
        "ResultPath": None,
    }
    processor = ingest["ItemProcessor"]
    assert processor["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert (processor["StartAt"], list(processor["States"])) == ("IngestPartition", ["IngestPartition"])
    assert processor["States"]["IngestPartition"]["End"] is True


def test_a_map_that_fails_as_a_whole_still_goes_on_to_finish(template: Template) -> None:
    """Whatever fails the Map itself (its item reader or result writer), Finish runs on the state as it was, counts
    what reported and lists the rest for a rerun."""
    assert definition(template)["States"]["Ingest"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "Finish"}
    ]


@pytest.mark.parametrize(
    ("template_fixture", "task_s", "execution_s"),
    [
        # 15 minutes + 1; ceil(10,000 / 4) rounds of a task, and Partition and Finish twice each
        ("template", 960, 2500 * 960 + 4 * 960),
        # 5 minutes + 1; ceil(10,000 / 16) rounds
        ("custom_template", 360, 625 * 360 + 4 * 360),
    ],
    ids=["default", "custom"],
)
def test_every_task_and_the_execution_time_out_as_the_sizing_rules_say(
    template_fixture: str, task_s: int, execution_s: int, request: pytest.FixtureRequest
) -> None:
    """A task state gives up a minute after its function's own timeout; the execution after the Map's largest run
    (MAX_PARTITIONS partitions, max_workers at a time) and two attempts each of Partition and Finish."""
    template = request.getfixturevalue(template_fixture)
    timeouts = {name: state.get("TimeoutSeconds") for name, state in states(template).items() if state["Type"] != "Map"}
    assert timeouts == {"Partition": task_s, "IngestPartition": task_s, "Finish": task_s}
    assert definition(template)["TimeoutSeconds"] == execution_s


def test_max_workers_context_sets_the_map_concurrency(custom_template: Template) -> None:
    """max_workers=16 becomes the Distributed Map's MaxConcurrency."""
    assert definition(custom_template)["States"]["Ingest"]["MaxConcurrency"] == 16


def test_state_machine_logs_every_event_without_its_data_to_a_log_group_kept_seven_days(template: Template) -> None:
    """Level ALL without the execution data (no step's input, output, error or cause in the log group), to the state
    machine's own log group."""
    logging = properties(template, STATE_MACHINE_ID)["LoggingConfiguration"]
    (destination,) = logging.pop("Destinations")
    assert logging == {"Level": "ALL", "IncludeExecutionData": False}
    log_group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert properties(template, log_group_id)["RetentionInDays"] == 7
    function_log_groups = {
        function_log_group_id(template, function_id)
        for function_id in template.find_resources("AWS::Lambda::Function")
        if "LoggingConfig" in properties(template, function_id)
    }
    assert log_group_id not in function_log_groups


def test_state_machine_is_traced_with_x_ray(template: Template) -> None:
    """X-Ray tracing is on, so a slow execution shows which step and which invocation took the time."""
    assert properties(template, STATE_MACHINE_ID)["TracingConfiguration"] == {"Enabled": True}


# -- the functions --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("handler", TASK_HANDLERS)
def test_task_functions_run_the_trigger_functions_code_and_configuration(template: Template, handler: str) -> None:
    """Same code asset, runtime, architecture, memory, timeout and /tmp as the trigger function; only the entry point
    (handler.<name>) and the environment differ."""
    shared = ("Code", "Runtime", "Architectures", "MemorySize", "Timeout", "EphemeralStorage")
    trigger = properties(template, function_logical_id(template))
    task = properties(template, task_function_id(template, handler))
    assert {key: task[key] for key in shared} == {key: trigger[key] for key in shared}
    assert (task["Runtime"], task["Architectures"]) == ("python3.14", ["arm64"])


@pytest.mark.parametrize("handler", TASK_HANDLERS)
def test_task_functions_log_to_their_own_log_group_kept_seven_days(template: Template, handler: str) -> None:
    """Each task function writes to a log group of its own, which keeps logs for 7 days."""
    function_id = task_function_id(template, handler)
    log_group_id = function_log_group_id(template, function_id)
    assert properties(template, log_group_id)["RetentionInDays"] == 7
    assert log_group_id != function_log_group_id(template, function_logical_id(template))


@pytest.mark.parametrize("handler", TASK_HANDLERS)
def test_task_function_roles_have_no_managed_or_inline_policies(template: Template, handler: str) -> None:
    """Each task function has an explicit role of its own: no AWS managed policy, no inline policy."""
    role_id = function_role_id(template, task_function_id(template, handler))
    role = properties(template, role_id)
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]


POWERTOOLS = {"POWERTOOLS_SERVICE_NAME": "csv-ingest", "POWERTOOLS_METRICS_NAMESPACE": "CsvIngest"}


@pytest.mark.parametrize(
    ("handler", "variables"),
    [
        (HANDLER_PARTITION, {"KEY_COLUMN": "customer_id", "PARTITION_BYTES": str(8 * 1024 * 1024)}),
        (
            HANDLER_INGEST_PARTITION,
            {
                "KEY_COLUMN": "customer_id",
                "TABLE_NAME": {"Ref": TABLE_ID},
                "WRITE_MODE": "merge",
                "WRITE_CONCURRENCY": "16",
            },
        ),
        (HANDLER_FINISH, {"KEY_COLUMN": "customer_id", "REJECTS_BUCKET": {"Ref": REJECTS_BUCKET_ID}}),
    ],
)
def test_task_function_environment(template: Template, handler: str, variables: dict[str, Any]) -> None:
    """Each task is told the work bucket and exactly what its step needs, no more."""
    environment = properties(template, task_function_id(template, handler))["Environment"]["Variables"]
    assert environment == {"WORK_BUCKET": {"Ref": WORK_BUCKET_ID}, **variables, **POWERTOOLS}


def test_trigger_is_told_the_state_machine_and_the_threshold(template: Template) -> None:
    """STATE_MACHINE_ARN refers to the state machine, LARGE_FILE_BYTES is 8 MiB by default."""
    environment = properties(template, function_logical_id(template))["Environment"]["Variables"]
    assert (environment["STATE_MACHINE_ARN"], environment["LARGE_FILE_BYTES"]) == (
        {"Ref": STATE_MACHINE_ID},
        str(8 * 1024 * 1024),
    )


def test_large_file_context_reaches_the_functions(custom_template: Template) -> None:
    """large_file_bytes=1048576 reaches the trigger, partition_bytes=524288 the partition task."""
    trigger = properties(custom_template, function_logical_id(custom_template))["Environment"]["Variables"]
    partition = properties(custom_template, task_function_id(custom_template, HANDLER_PARTITION))
    assert trigger["LARGE_FILE_BYTES"] == "1048576"
    assert partition["Environment"]["Variables"]["PARTITION_BYTES"] == "524288"


def test_custom_sizing_reaches_the_task_functions(custom_template: Template) -> None:
    """memory_size_mb, timeout_minutes and ephemeral_storage_mib size the task functions too."""
    for handler in TASK_HANDLERS:
        task = properties(custom_template, task_function_id(custom_template, handler))
        assert (task["MemorySize"], task["Timeout"], task["EphemeralStorage"]) == (2048, 300, {"Size": 1024})


# -- least privilege ------------------------------------------------------------------------------------------


def test_partition_role_reads_uploads_and_writes_work_objects_only(template: Template) -> None:
    """Its logs; GetObject(Version) on the upload bucket's objects, and their tagging (the outcome of a file that
    fails as a whole there); GetObject (a failed run's manifests and verdict, for a rerun) and PutObject (chunks, the
    manifest) on the work bucket's objects; the outcome event on the default bus."""
    function_id, statements = task_role_statements(template, HANDLER_PARTITION)
    assert statements == canonical(
        [
            writes_own_logs(template, function_id),
            {
                "Effect": "Allow",
                "Action": sorted(["s3:GetObject", "s3:GetObjectVersion", *OUTCOME_TAGGING]),
                "Resource": objects_of(UPLOAD_BUCKET_ID),
            },
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": objects_of(WORK_BUCKET_ID)},
            PUTS_OUTCOME_EVENTS,
        ]
    )


@pytest.mark.parametrize(
    ("template_fixture", "table_actions"),
    [
        ("template", "dynamodb:UpdateItem"),
        ("custom_template", "dynamodb:PutItem"),
    ],
    ids=["merge", "replace"],
)
def test_ingest_partition_role_reads_and_writes_work_objects_and_writes_the_table_only(
    request: pytest.FixtureRequest, template_fixture: str, table_actions: str
) -> None:
    """Its logs; GetObject and PutObject on the work bucket's objects; on the table, the one write its mode makes
    per stamped row: UpdateItem (merge) or PutItem (replace)."""
    template: Template = request.getfixturevalue(template_fixture)
    function_id, statements = task_role_statements(template, HANDLER_INGEST_PARTITION)
    assert statements == canonical(
        [
            writes_own_logs(template, function_id),
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": objects_of(WORK_BUCKET_ID)},
            {"Effect": "Allow", "Action": table_actions, "Resource": {"Fn::GetAtt": [TABLE_ID, "Arn"]}},
        ]
    )


def test_finish_role_reads_and_deletes_work_objects_and_writes_reports_only(template: Template) -> None:
    """Its logs; GetObject, PutObject (the verdict, a failed run's manifest) and DeleteObject on the work bucket's
    objects; PutObject (the report) and DeleteObject (an earlier run's report) on the rejects bucket's; the outcome:
    tagging on the upload bucket's objects, and the event on the default bus."""
    function_id, statements = task_role_statements(template, HANDLER_FINISH)
    assert statements == canonical(
        [
            writes_own_logs(template, function_id),
            {
                "Effect": "Allow",
                "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                "Resource": objects_of(WORK_BUCKET_ID),
            },
            {
                "Effect": "Allow",
                "Action": ["s3:DeleteObject", "s3:PutObject"],
                "Resource": objects_of(REJECTS_BUCKET_ID),
            },
            {"Effect": "Allow", "Action": sorted(OUTCOME_TAGGING), "Resource": objects_of(UPLOAD_BUCKET_ID)},
            PUTS_OUTCOME_EVENTS,
        ]
    )


def test_state_machine_role_invokes_its_functions_and_nothing_else(template: Template) -> None:
    """Invoke the three task functions; deliver logs and traces (Resource * is all those actions take); start,
    describe, stop and redrive its own executions (the Distributed Map's child executions); read the manifest and
    write the Map's results in the work bucket."""
    role = Capture()
    template.has_resource_properties("AWS::StepFunctions::StateMachine", {"RoleArn": {"Fn::GetAtt": [role, "Arn"]}})
    functions = [{"Fn::GetAtt": [task_function_id(template, h), "Arn"]} for h in TASK_HANDLERS]
    executions = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":states:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":execution:",
                {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": STATE_MACHINE_ID}]}]},
            ],
        ]
    }

    def executions_then(suffix: str) -> dict[str, Any]:
        separator, parts = executions["Fn::Join"]
        return {"Fn::Join": [separator, [*parts, suffix]]}

    statements = role_statements(template, role.as_string())
    (invoke,) = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
    assert sorted(map(json.dumps, invoke["Resource"])) == sorted(
        json.dumps(arn) for function in functions for arn in (function, {"Fn::Join": ["", [function, ":*"]]})
    )
    assert [s for s in statements if s is not invoke] == canonical(
        [
            {
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:DescribeLogGroups",
                    "logs:DescribeResourcePolicies",
                    "logs:GetLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:UpdateLogDelivery",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:PutTelemetryRecords",
                    "xray:PutTraceSegments",
                ],
                "Resource": "*",
            },
            {"Effect": "Allow", "Action": "states:StartExecution", "Resource": {"Ref": STATE_MACHINE_ID}},
            {
                "Effect": "Allow",
                "Action": ["states:DescribeExecution", "states:StopExecution"],
                "Resource": executions_then(":*"),
            },
            {"Effect": "Allow", "Action": "states:RedriveExecution", "Resource": executions_then("/*:*")},
            {
                "Effect": "Allow",
                "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
                "Resource": {
                    "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Ref": WORK_BUCKET_ID}, "/*"]]
                },
            },
        ]
    )


def test_only_the_trigger_and_the_map_may_start_executions(template: Template) -> None:
    """states:StartExecution is granted to two roles: the trigger function's and the state machine's own (for the
    Map's child executions), each on this state machine only."""
    trigger_role = function_role_id(template, function_logical_id(template))
    machine_role = properties(template, STATE_MACHINE_ID)["RoleArn"]["Fn::GetAtt"][0]
    starters = sorted(
        (role["Ref"], json.dumps(statement["Resource"]))
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "states:StartExecution" in as_list(statement["Action"])
        for role in policy["Properties"]["Roles"]
    )
    machine = json.dumps({"Ref": STATE_MACHINE_ID})
    assert starters == sorted([(trigger_role, machine), (machine_role, machine)])


# -- the work bucket ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template_fixture", "days"),
    [("template", 28 + 14 + 1), ("custom_template", 3 + 14 + 1)],  # the execution timeout in days, rounded up
    ids=["default", "custom"],
)
def test_work_objects_outlive_the_execution_and_its_redrive_window(
    template_fixture: str, days: int, request: pytest.FixtureRequest
) -> None:
    """A failed run's work objects are there as long as its execution may run and then be redriven or rerun (14
    days after it ended), plus a day; abandoned multipart uploads go after a day."""
    template = request.getfixturevalue(template_fixture)
    assert properties(template, WORK_BUCKET_ID)["LifecycleConfiguration"]["Rules"] == [
        {
            "Id": "ExpireWorkObjects",
            "Status": "Enabled",
            "ExpirationInDays": days,
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
    ]
    assert days * 24 * 3600 >= definition(template)["TimeoutSeconds"] + 14 * 24 * 3600


def test_work_bucket_triggers_nothing_and_keeps_no_versions(template: Template) -> None:
    """A chunk (itself CSV) can never start an ingestion; a deleted work object is gone, not kept as a version."""
    work_bucket = properties(template, WORK_BUCKET_ID)
    assert "NotificationConfiguration" not in work_bucket
    assert "VersioningConfiguration" not in work_bucket
    notified = [
        r["Properties"]["BucketName"] for r in template.find_resources("Custom::S3BucketNotifications").values()
    ]
    assert {"Ref": WORK_BUCKET_ID} not in notified


def test_work_bucket_is_removed_with_the_stack_even_when_data_is_retained(custom_template: Template) -> None:
    """With retain_data=true the work bucket is still emptied and deleted with the stack: it holds only copies."""
    assert WORK_BUCKET_ID in custom_template.find_resources(
        "AWS::S3::Bucket", {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
    )
    custom_template.has_resource_properties("Custom::S3AutoDeleteObjects", {"BucketName": {"Ref": WORK_BUCKET_ID}})


def test_work_bucket_logs_access_like_the_upload_bucket(template: Template) -> None:
    """It holds copies of uploaded rows, so its access is logged as the uploads' is."""
    assert properties(template, WORK_BUCKET_ID)["LoggingConfiguration"]["DestinationBucketName"] == {
        "Ref": ACCESS_LOGS_BUCKET_ID
    }


# -- the alarm ------------------------------------------------------------------------------------------------


def test_failed_executions_alarm_fires_on_one_failed_execution(template: Template) -> None:
    """ExecutionsFailed Sum >= 1 over one 5-minute period alarms, notifying the topic; no data is not an alarm."""
    topic_id, _ = single_resource(template, "AWS::SNS::Topic")
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/States",
            "MetricName": "ExecutionsFailed",
            "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": STATE_MACHINE_ID}}],
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": topic_id}],
        },
    )
