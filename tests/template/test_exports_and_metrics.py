"""The export bucket and function, and the business dashboard, as template.yaml deploys them: the
files encrypted, private, gone after 7 days, written by the export function alone and read by the
API only through presigned GETs; the function started asynchronously with its failures parked and
alarmed; the dashboard showing every business metric the code writes, where it writes them."""

from __future__ import annotations

import json
from typing import Any

from orderdesk import metrics
from orderdesk.services import exports
from tests.template import support

TEMPLATE = support.template()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = support.functions()
ROLES = {lid: r["Properties"] for lid, r in support.transformed()["Resources"].items()
         if r["Type"] == "AWS::IAM::Role"}


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for policy in role.get("Policies", []):
        found = policy["PolicyDocument"]["Statement"]
        out.extend(found if isinstance(found, list) else [found])
    return out


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def s3_grants(role_id: str) -> list[tuple[str, Any]]:
    """(action, resource) of every S3 action a role is allowed."""
    return [(action, resource) for s in statements(ROLES[role_id]) if s["Effect"] == "Allow"
            for action in as_list(s["Action"]) if action.startswith("s3:") for resource in as_list(s["Resource"])]


def role_of(function_id: str) -> str:
    """The IAM role a function runs with, after the transform (its own, or the one SAM made)."""
    role = support.transformed()["Resources"][function_id]["Properties"]["Role"]
    return support.logical_id(role) or ""


def test_the_export_bucket_is_encrypted_private_and_forgets_its_files_after_7_days():
    props = RESOURCES["ExportBucket"]["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert props["PublicAccessBlockConfiguration"] == {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                       "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (lifecycle,) = props["LifecycleConfiguration"]["Rules"]
    assert lifecycle["Status"] == "Enabled" and lifecycle["ExpirationInDays"] == exports.KEEP_DAYS == 7
    assert lifecycle["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1


def test_only_the_export_function_may_write_the_files_and_only_over_tls():
    policy = RESOURCES["ExportBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    tls = next(s for s in policy if s["Sid"] == "TlsOnly")
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    writers = next(s for s in policy if s["Sid"] == "OnlyTheExportFunctionWrites")
    assert writers["Effect"] == "Deny" and {"s3:PutObject", "s3:AbortMultipartUpload"} <= set(writers["Action"])
    exempt = writers["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert support.logical_id(exempt) == role_of("ExportOrdersFunction") == "ExportOrdersFunctionRole"


def test_the_export_function_writes_its_files_and_the_api_only_reads_them():
    bucket_objects = {"Fn::Sub": "${ExportBucket.Arn}/exports/*"}
    # the export function: multipart writes (PutObject covers its parts) and aborts, in exports/ only
    assert sorted(s3_grants("ExportOrdersFunctionRole")) == [("s3:AbortMultipartUpload", bucket_objects),
                                                             ("s3:PutObject", bucket_objects)]
    # the API: GetObject alone (what a presigned download needs), in exports/ only
    assert s3_grants(role_of("ApiFunction")) == [("s3:GetObject", bucket_objects)]
    # nobody else touches S3
    others = {lid for lid in ROLES if s3_grants(lid)} - {"ExportOrdersFunctionRole", role_of("ApiFunction")}
    assert others == set()


def test_the_api_may_start_the_export_function_and_the_connection_test_and_no_other():
    env = FUNCTIONS["ApiFunction"]["Environment"]["Variables"]
    assert env["EXPORT_FUNCTION_NAME"] == {"Ref": "ExportOrdersFunction"} and env["EXPORT_BUCKET"] == {"Ref": "ExportBucket"}
    invoked = [p["LambdaInvokePolicy"]["FunctionName"] for p in FUNCTIONS["ApiFunction"]["Policies"]
               if isinstance(p, dict) and "LambdaInvokePolicy" in p]
    # (and the connection test of a server, run apart because only it may decrypt credentials)
    assert invoked == [{"Ref": "ExportOrdersFunction"}, {"Ref": "ServerCheckFunction"}]


def test_the_export_function_is_retried_then_parked_with_alarms_and_outlives_its_stale_limit():
    props = FUNCTIONS["ExportOrdersFunction"]
    config = props["EventInvokeConfig"]
    assert config["MaximumRetryAttempts"] == 2
    # an event older than the time after which a silent export reads FAILED is not run any more
    assert config["MaximumEventAgeInSeconds"] <= exports.STALE_MINUTES * 60
    queue = support.logical_id(config["DestinationConfig"]["OnFailure"]["Destination"])
    assert RESOURCES[queue]["Type"] == "AWS::SQS::Queue"
    alarms = [a["Properties"] for a in support.resources("AWS::CloudWatch::Alarm").values()]
    assert any(a["MetricName"] == "ApproximateNumberOfMessagesVisible"
               and support.logical_id(a["Dimensions"][0]["Value"]) == queue for a in alarms)
    # its role may send there, and its run stops before Lambda's timeout to say why
    sends = [s for s in statements(ROLES["ExportOrdersFunctionRole"]) if "sqs:SendMessage" in as_list(s["Action"])]
    assert [support.logical_id(s["Resource"]) for s in sends] == [queue]
    assert props["Timeout"] * 1000 > exports.STOP_BEFORE_MS


def test_the_business_dashboard_shows_every_business_metric_in_the_functions_namespace():
    # GIVEN the namespace the functions write to and the dashboard's body, its ${...} resolved
    namespace = FUNCTIONS["OrderStreamFunction"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert namespace == {"Fn::Sub": "OrderDesk/${AWS::StackName}"}
    body, variables = RESOURCES["BusinessDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert variables["Namespace"] == namespace
    text = body.replace("${Namespace}", "OrderDesk/stack").replace("${AWS::Region}", "eu-west-1")
    assert "${" not in text
    dashboard = json.loads(text)
    # THEN every metric orderdesk.metrics writes is on it: a plain one by name and `service`, one
    # with a dimension through a SEARCH over that dimension
    lines = [m for w in dashboard["widgets"] for m in w["properties"]["metrics"]]
    searches = [m[0]["expression"] for m in lines if isinstance(m[0], dict)]
    for name in metrics.NAMES:
        if name in metrics.DIMENSION:
            wanted = f'{{OrderDesk/stack,{metrics.DIMENSION[name]},service}} MetricName="{name}"'
            assert any(wanted in e for e in searches), (name, searches)
        else:
            assert ["OrderDesk/stack", name, "service", "orderdesk"] in lines, name
