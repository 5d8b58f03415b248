"""template.yaml's resources, made locally at each start of the stack: the table in DynamoDB
Local (kept across restarts), and in moto (whose state is in memory, so made afresh) the queues
with their redrive policies, the S3 buckets with their encryption, public access block and
lifecycle, the state machines from their ASL files, the KMS keys (pinned to the key id and
material of their first start, so what they encrypted still decrypts), and the environment the
template gives its functions, which points the code at them (``!Ref BulkQueue`` →
``BULK_QUEUE_URL``, ``!Ref ExportOrdersFunction`` → ``EXPORT_FUNCTION_NAME``: the name moto's
Invoke route serves it by...).

Each function records what it made in the template's ``Resolver`` (``!Ref`` and ``!GetAtt``
values), so later references resolve to the local resources."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from typing import Any

from infra.local import template_wiring as tw
from infra.local.env import ACCOUNT_ID, REGION, TABLE_NAME, EnvPatch, reset_cached_clients
from infra.local.errors import StackError
from infra.local.files import LocalFiles, write_private

LOG = logging.getLogger(__name__)

TABLE_LOGICAL_ID = "Table"


def create_table(template_path: Path, resolver: tw.Resolver) -> bool:
    """The table as template.yaml defines it, unless DynamoDB Local has it already; True if made."""
    import boto3

    from infra.local.table import create_table as create

    client = boto3.client("dynamodb")
    created = create(client, TABLE_NAME, template_path)
    LOG.info("table %s %s", TABLE_NAME, "created from template.yaml" if created else "found")
    desc = client.describe_table(TableName=TABLE_NAME)["Table"]
    resolver.refs[TABLE_LOGICAL_ID] = TABLE_NAME
    resolver.attributes[(TABLE_LOGICAL_ID, "Arn")] = desc["TableArn"]
    if desc.get("LatestStreamArn"):
        resolver.attributes[(TABLE_LOGICAL_ID, "StreamArn")] = desc["LatestStreamArn"]
    return created


def table_has_items() -> bool:
    import boto3

    page = boto3.client("dynamodb").scan(TableName=TABLE_NAME, Limit=1, Select="COUNT")
    return bool(page.get("ScannedCount") or page.get("Count"))


def create_queues(template: dict[str, Any], resolver: tw.Resolver) -> dict[str, str]:
    """Every SQS queue of the template, dead-letter queues first; returns {logical id: URL}."""
    import boto3

    sqs = boto3.client("sqs")
    queues: dict[str, str] = {}
    for queue in tw.queues_in(template, resolver):
        attributes = dict(queue.attributes)
        if queue.dead_letter_queue:
            dlq_arn = resolver.attributes.get((queue.dead_letter_queue, "Arn"))
            if dlq_arn is None:
                raise StackError(f"queue {queue.logical_id}: its dead-letter queue {queue.dead_letter_queue} "
                                 "is not an SQS queue of template.yaml")
            attributes["RedrivePolicy"] = tw.redrive_policy(queue, dlq_arn)
        url = sqs.create_queue(QueueName=queue.name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        resolver.refs[queue.logical_id] = url
        resolver.attributes.update({(queue.logical_id, "Arn"): arn, (queue.logical_id, "QueueName"): queue.name,
                                    (queue.logical_id, "QueueUrl"): url})
        queues[queue.logical_id] = url
        if queue.max_receive_count:
            LOG.info("queue %s (dead letters after %d receives)", queue.name, queue.max_receive_count)
    return queues


def create_buckets(template: dict[str, Any], resolver: tw.Resolver) -> dict[str, str]:
    """Every S3 bucket of the template in moto, with the template's encryption, public access
    block and lifecycle rules (moto keeps them; it does not act on them); {logical id: name}."""
    import boto3

    s3 = boto3.client("s3", region_name=tw.REGION)
    made: dict[str, str] = {}
    for logical_id, res in tw.resources_of_type(template, "AWS::S3::Bucket").items():
        props = res.get("Properties") or {}
        name = str(resolver.try_resolve(props.get("BucketName")) or f"{tw.STACK_NAME}-{logical_id}".lower())
        s3.create_bucket(Bucket=name)
        if "BucketEncryption" in props:
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
                "Rules": [tw.encryption_rule(rule) for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]]})
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(Bucket=name,
                                       PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
        rules = (props.get("LifecycleConfiguration") or {}).get("Rules")
        if rules:
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={
                "Rules": [tw.lifecycle_rule(rule) for rule in rules]})
        resolver.refs[logical_id] = name
        resolver.attributes.update({(logical_id, "Arn"): f"arn:aws:s3:::{name}", (logical_id, "BucketName"): name})
        made[logical_id] = name
    if made:
        LOG.info("buckets: %s", ", ".join(sorted(made.values())))
    return made


def register_functions(functions: dict[str, tw.FunctionDef], resolver: tw.Resolver) -> None:
    """A function's ``!Ref`` is its name; locally that is the logical id moto's Invoke route serves
    it by (``infra.local.statemachines.lambda_functions_from_template``), whatever its FunctionName."""
    for logical_id in functions:
        resolver.refs[logical_id] = logical_id
        resolver.attributes[(logical_id, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{logical_id}"


def create_kms_keys(template: dict[str, Any], resolver: tw.Resolver, files: LocalFiles) -> dict[str, str]:
    """Every KMS key of the template (``AWS::KMS::Key``) in moto's KMS; returns {logical id: ARN}.

    moto makes a new key id and new key material at each start, and a ciphertext names its key:
    what the last run encrypted would never decrypt again. So the first start keeps each key's
    id and material in ``.local/kms-<logical id>.json`` (the local stand-in for the key that never
    leaves KMS), and later starts put them back into moto's key before anything uses it."""
    import boto3

    kms = boto3.client("kms")
    made: dict[str, str] = {}
    for logical_id, resource in tw.resources_of_type(template, "AWS::KMS::Key").items():
        props = resource.get("Properties") or {}
        created = kms.create_key(Description=str(resolver.try_resolve(props.get("Description")) or ""),
                                 KeyUsage=props.get("KeyUsage", "ENCRYPT_DECRYPT"),
                                 KeySpec=props.get("KeySpec", "SYMMETRIC_DEFAULT"))["KeyMetadata"]
        key_id, arn = _pin_key(files.kms_key(logical_id), created["KeyId"])
        resolver.refs[logical_id] = key_id
        resolver.attributes.update({(logical_id, "Arn"): arn, (logical_id, "KeyId"): key_id})
        made[logical_id] = arn
        LOG.info("KMS key %s (%s)", logical_id, key_id)
    return made


def _pin_key(saved: Path, key_id: str) -> tuple[str, str]:
    """moto's key `key_id` given the id and material kept in `saved` (or, the first time, kept
    there): its (key id, ARN) from now on."""
    from moto.kms.models import kms_backends

    backend = kms_backends[ACCOUNT_ID][REGION]
    key = backend.keys[key_id]
    if not saved.exists():
        write_private(saved, json.dumps({"key_id": key.id, "key_material": base64.b64encode(
            key.key_material).decode()}).encode())
        return key.id, key.arn
    kept = json.loads(saved.read_text())
    del backend.keys[key_id]
    key.id, key.arn = kept["key_id"], key.arn.replace(key_id, kept["key_id"])
    key.key_material = base64.b64decode(kept["key_material"])
    backend.keys[key.id] = key
    return key.id, key.arn


def create_state_machines(template_path: Path, resolver: tw.Resolver) -> dict[str, str]:
    """Every state machine of the template, from its ASL file; returns {logical id: ARN}."""
    import boto3

    from infra.local import statemachines

    # the ARNs reach the code through the template's !Ref in the environment
    created = statemachines.create_state_machines(boto3.client("stepfunctions"), template_path)
    for logical_id, arn in created.items():
        resolver.refs[logical_id] = arn
        resolver.attributes[(logical_id, "Arn")] = arn
        resolver.attributes[(logical_id, "Name")] = arn.rsplit(":", 1)[-1]
    LOG.info("state machines: %s", ", ".join(sorted(created)) or "none")
    return created


def apply_template_environment(env: EnvPatch, functions: dict[str, tw.FunctionDef], resolver: tw.Resolver,
                               state_machines: dict[str, str], template_path: Path) -> list[str]:
    """The variables template.yaml gives its functions. Those naming a local resource (queue URL,
    state machine ARN, table) are set; plain settings (FRAUD_REVIEW_THRESHOLD: 25) are set unless
    the caller's environment already has them (``FRAUD_PROVIDER=... make run``). The stack's
    own values (credentials, endpoints, local keys) always win. Returns the problems found."""
    own = env.names()
    values = tw.function_environment(functions, resolver)
    resources = tw.resource_variables(functions, resolver)
    env.apply({k: v for k, v in values.items() if k in resources and k not in own})
    env.apply({k: v for k, v in values.items() if k not in resources and k not in own}, keep_existing=True)
    if state_machines:
        from infra.local import statemachines

        defaults = statemachines.state_machine_environment(state_machines, template_path)
        env.apply({k: v for k, v in defaults.items() if k not in values})
    reset_cached_clients()
    expected = ["BULK_QUEUE_URL"] + (["ACCEPT_STATE_MACHINE_ARN", "CANCEL_STATE_MACHINE_ARN",
                                      "ITEM_COMMANDS_STATE_MACHINE_ARN"] if state_machines else [])
    return [f"{name} is not set: no function of template.yaml refers to it"
            for name in expected if not os.environ.get(name)]


def save_queued_messages(files: LocalFiles, queues: dict[str, str]) -> None:
    """moto keeps its queues in memory: the messages still in them (a bulk job half done, a
    batch waiting out its visibility timeout, the dead letters) are written to ``queued.json``
    before moto stops, and sent again at the next start (``restore_queued_messages``), so a
    restart loses no queued work (each message's receive count starts again)."""
    if not queues:
        return
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[ACCOUNT_ID][REGION]
    saved: dict[str, list[dict[str, Any]]] = {}
    for url in queues.values():
        name = url.rsplit("/", 1)[-1]
        queue = backend.queues.get(name)
        messages = list(getattr(queue, "_messages", None) or [])
        if messages:
            saved[name] = [{"body": m.body, "attributes": {  # string and number attributes (ours has none)
                k: v for k, v in (m.message_attributes or {}).items() if "StringValue" in v}} for m in messages]
    if saved:
        write_private(files.queued, json.dumps(saved).encode())
        LOG.info("kept %d queued message(s) for the next start", sum(len(v) for v in saved.values()))


def restore_queued_messages(files: LocalFiles, queues: dict[str, str]) -> list[str]:
    """Send again what ``save_queued_messages`` kept; returns the problems found."""
    if not files.queued.exists():
        return []
    import boto3

    saved: dict[str, list[dict[str, Any]]] = json.loads(files.queued.read_text())
    urls = {url.rsplit("/", 1)[-1]: url for url in queues.values()}
    sqs = boto3.client("sqs")
    for name, messages in saved.items():
        if name not in urls:
            return [f"{len(messages)} queued message(s) of queue {name}, gone from template.yaml, "
                    f"left in {files.queued}"]
        for message in messages:
            kwargs: dict[str, Any] = {"QueueUrl": urls[name], "MessageBody": message["body"]}
            if message["attributes"]:
                kwargs["MessageAttributes"] = message["attributes"]
            sqs.send_message(**kwargs)
    files.queued.unlink()
    LOG.info("sent again %d message(s) queued before the last stop", sum(len(v) for v in saved.values()))
    return []
