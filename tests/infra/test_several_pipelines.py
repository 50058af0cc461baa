"""Several pipelines in one app: the example app (examples/two_pipelines/app.py) synthesizes, cdk-nag and cfn-lint
clean, into two tables fed from one shared bucket by prefix, with alarms and dashboards an operator tells apart; what
two pipelines of one stack cannot share is refused at synth."""

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from csv_ingest.infra import CsvIngestPipeline, PipelineProps
from csv_ingest.infra.ingestion import TRIGGER_SUFFIXES
from tests.infra.synth import REPO_ROOT, Synthesized, cli_context
from tests.infra.test_existing_bucket import assert_cfn_lint_passes
from tests.infra.test_pipeline_template import as_list, cfn_text

EXAMPLE = REPO_ROOT / "examples" / "two_pipelines" / "app.py"
BUCKET = "acme-incoming"
PIPELINES = {"Customers": "customers/", "Orders": "orders/"}


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("two_pipelines_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The example app as `cdk synth --app ... -c upload_bucket_name=acme-incoming` runs it (cdk-nag included)."""
    example = load_example()
    outdir = tmp_path_factory.mktemp("cdk.out.example")
    app = example.build_app(cli_context(upload_bucket_name=BUCKET), outdir=str(outdir))
    assembly = app.synth()  # raises on an unacknowledged cdk-nag finding
    stack = app.node.find_child(example.STACK_ID)
    assert isinstance(stack, Stack)
    return Synthesized(
        template=Template.from_stack(stack),
        template_file=Path(assembly.get_stack_artifact(stack.artifact_id).template_full_path),
        validation_report=json.loads((outdir / "validation-report.json").read_text()),
    )


@pytest.fixture(scope="module")
def example(example_synth: Synthesized) -> Template:
    return example_synth.template


def resources_of(template: Template, type_: str) -> dict[str, Any]:
    return dict(template.find_resources(type_))


def pipeline_of(logical_id: str) -> str:
    (name,) = [name for name in PIPELINES if logical_id.startswith(name)]
    return name


# -- the example app -------------------------------------------------------------------------------------------


def test_the_example_passes_cdk_nag(example_synth: Synthesized) -> None:
    """cdk-nag's AwsSolutions checks find nothing unacknowledged in the two-pipeline stack."""
    (report,) = [r for r in example_synth.validation_report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert report["violations"] == []
    assert report["suppressedViolations"], "no acknowledgement matched: did cdk-nag run on the example?"


def test_the_example_passes_cfn_lint(example_synth: Synthesized) -> None:
    """cfn-lint (the repository's .cfnlintrc.yaml) reports nothing on the example's template."""
    assert_cfn_lint_passes(example_synth.template_file)


def test_each_pipeline_has_its_own_table_keyed_as_its_props_say(example: Template) -> None:
    """customers: keyed on customer_id; orders: on customer_id and order_id."""
    tables = resources_of(example, "AWS::DynamoDB::Table")
    key_schemas = {pipeline_of(i): table["Properties"]["KeySchema"] for i, table in tables.items()}
    assert key_schemas == {
        "Customers": [{"AttributeName": "customer_id", "KeyType": "HASH"}],
        "Orders": [
            {"AttributeName": "customer_id", "KeyType": "HASH"},
            {"AttributeName": "order_id", "KeyType": "RANGE"},
        ],
    }


def test_each_pipelines_functions_are_told_their_own_column_types(example: Template) -> None:
    """The trigger functions' COLUMN_TYPES are each pipeline's own."""
    triggers = {
        pipeline_of(i): json.loads(f["Properties"]["Environment"]["Variables"]["COLUMN_TYPES"])
        for i, f in resources_of(example, "AWS::Lambda::Function").items()
        if f["Properties"].get("Handler") == "handler.handler"
    }
    assert triggers == {"Customers": {"age": "N"}, "Orders": {"quantity": "N", "total": "N", "paid": "BOOL"}}


def test_the_shared_bucket_notifies_each_pipeline_of_its_own_prefix(example: Template) -> None:
    """One notification resource on the shared bucket holds both pipelines' filters: each prefix with every
    suffix, to that pipeline's trigger function."""
    (notifications,) = resources_of(example, "Custom::S3BucketNotifications").values()
    assert notifications["Properties"]["BucketName"] == BUCKET
    assert notifications["Properties"]["Managed"] is False
    routes = sorted(
        (
            pipeline_of(configuration["LambdaFunctionArn"]["Fn::GetAtt"][0]),
            {rule["Name"]: rule["Value"] for rule in configuration["Filter"]["Key"]["FilterRules"]}["prefix"],
            {rule["Name"]: rule["Value"] for rule in configuration["Filter"]["Key"]["FilterRules"]}["suffix"],
        )
        for configuration in notifications["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    )
    assert routes == sorted((name, prefix, suffix) for name, prefix in PIPELINES.items() for suffix in TRIGGER_SUFFIXES)


def test_each_pipeline_reads_its_own_prefix_only(example: Template) -> None:
    """Every grant on the shared bucket's objects is on one pipeline's prefix, to that pipeline's roles."""
    grants = {
        (pipeline_of(policy_id), cfn_text(statement["Resource"]))
        for policy_id, policy in resources_of(example, "AWS::IAM::Policy").items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if BUCKET in json.dumps(statement["Resource"]) and "s3:GetObject" in as_list(statement["Action"])
    }
    assert grants == {(name, f"arn:${{AWS::Partition}}:s3:::{BUCKET}/{prefix}*") for name, prefix in PIPELINES.items()}


def test_each_pipelines_alarms_count_its_own_files(example: Template) -> None:
    """The rejected-rows alarms read each pipeline's own service dimension; every alarm's logical ID (which
    CloudFormation names it after) starts with its pipeline's name."""
    alarms = resources_of(example, "AWS::CloudWatch::Alarm")
    assert sorted(pipeline_of(i) for i in alarms) == ["Customers"] * 5 + ["Orders"] * 5
    rejected = {
        pipeline_of(i): a["Properties"]["Dimensions"]
        for i, a in alarms.items()
        if a["Properties"]["MetricName"] == "RowsRejected"
    }
    assert rejected == {
        "Customers": [{"Name": "service", "Value": "csv-ingest-customers"}],
        "Orders": [{"Name": "service", "Value": "csv-ingest-orders"}],
    }


def test_each_dashboard_shows_its_own_pipeline(example: Template) -> None:
    """Two dashboards, each named after its pipeline, each graphing its own service's rows only."""
    dashboards = {
        pipeline_of(i): cfn_text(d["Properties"]["DashboardBody"])
        for i, d in resources_of(example, "AWS::CloudWatch::Dashboard").items()
    }
    assert sorted(dashboards) == ["Customers", "Orders"]
    assert '"service","csv-ingest-customers"' in dashboards["Customers"]
    assert "csv-ingest-orders" not in dashboards["Customers"]
    assert '"service","csv-ingest-orders"' in dashboards["Orders"]
    assert "csv-ingest-customers" not in dashboards["Orders"]


def test_no_resource_of_the_example_has_a_fixed_name(example: Template) -> None:
    """No created resource has a hard-coded physical name that a second pipeline (or stack) could collide with."""
    name_properties = {
        "AlarmName",
        "BucketName",
        "DashboardName",
        "FunctionName",
        "LogGroupName",
        "QueueName",
        "RoleName",
        "StateMachineName",
        "TableName",
        "TopicName",
    }
    hard_coded = [
        (logical_id, name)
        for logical_id, resource in example.to_json()["Resources"].items()
        if not resource["Type"].startswith("Custom::")  # the notifications name the bucket they configure
        for name, value in resource.get("Properties", {}).items()
        if name in name_properties and isinstance(value, str)
    ]
    assert hard_coded == []


def test_the_example_asks_for_the_bucket() -> None:
    """Without -c upload_bucket_name the example stops and says which context key to give."""
    with pytest.raises(SystemExit, match="-c upload_bucket_name=<bucket>"):
        load_example().build_app(cli_context())


# -- a bucket and a table of the app itself --------------------------------------------------------------------


@pytest.fixture(scope="module")
def in_app() -> Template:
    """Two pipelines (web/ and shop/) sharing a bucket the app creates, encrypted with a key of its own, and writing
    one table of the app, which has a global secondary index."""
    stack = Stack(App(context={"aws:cdk:bundling-stacks": []}), "Shop")
    key = kms.Key(stack, "UploadsKey", enable_key_rotation=True)
    bucket = s3.Bucket(
        stack, "Uploads", encryption=s3.BucketEncryption.KMS, encryption_key=key, versioned=True, enforce_ssl=True
    )
    string = dynamodb.AttributeType.STRING
    table = dynamodb.TableV2(
        stack,
        "Orders",
        partition_key=dynamodb.Attribute(name="customer_id", type=string),
        sort_key=dynamodb.Attribute(name="order_id", type=string),
        global_secondary_indexes=[
            dynamodb.GlobalSecondaryIndexPropsV2(
                index_name="byDate", partition_key=dynamodb.Attribute(name="order_date", type=string)
            )
        ],
    )
    for name in ("Web", "Shop"):
        CsvIngestPipeline(
            stack,
            name,
            props=PipelineProps(
                upload_prefix=f"{name.lower()}/", service_name=f"orders-{name.lower()}", sort_key_column="order_id"
            ),
            existing_table=table,
            existing_upload_bucket=bucket,
        )
    return Template.from_stack(stack)


def _statements(template: Template) -> list[dict[str, Any]]:
    return [
        statement
        for policy in resources_of(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_a_bucket_of_the_app_gets_one_configuration_with_every_pipelines_notifications(in_app: Template) -> None:
    """The app's own bucket: one notification resource (Managed: the app owns the bucket's configuration whole) with
    both pipelines' prefixes."""
    (notifications,) = resources_of(in_app, "Custom::S3BucketNotifications").values()
    assert notifications["Properties"]["Managed"] is True
    prefixes = {
        rule["Value"]
        for configuration in notifications["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
        for rule in configuration["Filter"]["Key"]["FilterRules"]
        if rule["Name"] == "prefix"
    }
    assert prefixes == {"web/", "shop/"}


def test_writes_to_a_table_with_an_index_are_granted_on_the_table_only(in_app: Template) -> None:
    """The writers' grants name the table's ARN, not its indexes (DynamoDB updates them without the writer's
    permission): no wildcard for cdk-nag to find."""
    (table_id,) = resources_of(in_app, "AWS::DynamoDB::GlobalTable")
    writes = [s for s in _statements(in_app) if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    assert len(writes) == 4  # each pipeline's trigger and worker
    assert {json.dumps(as_list(s["Resource"])) for s in writes} == {json.dumps([{"Fn::GetAtt": [table_id, "Arn"]}])}


def test_the_readers_may_decrypt_with_the_app_buckets_key(in_app: Template) -> None:
    """The uploads' key is the app's: each pipeline's trigger and Partition may decrypt with it, through S3."""
    (key_id,) = resources_of(in_app, "AWS::KMS::Key").keys() - {
        i for i in resources_of(in_app, "AWS::KMS::Key") if i.startswith(("Web", "Shop"))
    }
    decrypts = [s for s in _statements(in_app) if s["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}]
    assert len(decrypts) == 4
    assert {json.dumps(s["Action"]) for s in decrypts} == {json.dumps("kms:Decrypt")}
    assert all("s3." in json.dumps(s["Condition"]["StringEquals"]["kms:ViaService"]) for s in decrypts)


# -- what pipelines of one stack cannot share ------------------------------------------------------------------


def _pipelines(*prefixes: str, service_names: tuple[str, ...] | None = None, import_twice: bool = False) -> None:
    """Pipelines in one stack sharing one bucket (imported once, or once per pipeline), one per prefix."""
    stack = Stack(App(context={"aws:cdk:bundling-stacks": []}), "Shared")  # no Docker bundling
    shared = s3.Bucket.from_bucket_name(stack, "Uploads", BUCKET)
    for number, prefix in enumerate(prefixes):
        bucket = s3.Bucket.from_bucket_name(stack, f"Uploads{number}", BUCKET) if import_twice else shared
        service = service_names[number] if service_names else f"pipeline-{number}"
        CsvIngestPipeline(
            stack,
            f"P{number}",
            props=PipelineProps(upload_prefix=prefix, service_name=service),
            existing_upload_bucket=bucket,
        )


@pytest.mark.parametrize(
    "prefixes",
    [("data/", "data/orders/"), ("data/orders/", "data/"), ("", "orders/"), ("orders/", "orders/"), ("ord", "orders/")],
)
def test_overlapping_prefixes_on_one_bucket_are_refused(prefixes: tuple[str, str]) -> None:
    """Two pipelines whose prefixes could match the same key stop the synth, naming both and the fix (S3 would
    refuse the notifications at deploy time)."""
    with pytest.raises(ValueError, match=r"pipelines Shared/P0 and Shared/P1 share an upload bucket with overlapping"):
        _pipelines(*prefixes)


@pytest.mark.parametrize("prefixes", [("", "orders/"), ("customers/", "orders/")])
def test_one_bucket_imported_twice_is_refused(prefixes: tuple[str, str]) -> None:
    """Each import of a bucket gets a notifications resource of its own, and two rewriting one configuration in one
    deploy could lose one pipeline's: the synth asks for one import, shared."""
    with pytest.raises(ValueError, match=r"import the upload bucket 'acme-incoming' twice .* import it once"):
        _pipelines(*prefixes, import_twice=True)


def test_prefixes_apart_on_one_bucket_are_taken() -> None:
    """customers/, orders/ and order-lines/ share a bucket: none starts with another."""
    _pipelines("customers/", "orders/", "order-lines/")


def test_two_pipelines_with_one_service_name_are_refused() -> None:
    """Each one's alarms would count the other's files: the synth stops, naming the prop to set."""
    with pytest.raises(ValueError, match=r"both log and count their metrics as service 'csv-ingest'.*service_name"):
        _pipelines("customers/", "orders/", service_names=("csv-ingest", "csv-ingest"))


@pytest.mark.parametrize("name", ["", "-csv", "csv ingest", "csv/ingest", "x" * 129])
def test_a_service_name_cloudwatch_would_refuse_is_refused(name: str) -> None:
    """The service name is a CloudWatch dimension value and a log field: letters, digits, . _ -, 1 to 128."""
    with pytest.raises(ValueError, match="service_name must be 1 to 128 letters"):
        PipelineProps(service_name=name)
