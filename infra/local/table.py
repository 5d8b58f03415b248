"""Create the OrderDesk table from template.yaml, so the local stack and AWS share one
definition (keys, GSIs, stream, TTL)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that reads CloudFormation short-form tags (!Ref, !GetAtt, !Sub ...) as data."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {f"Fn::{suffix}" if suffix not in ("Ref", "Condition") else suffix: value}


_CfnLoader.add_multi_constructor("!", _tag)


_PARSED: dict[tuple[str, int], dict[str, Any]] = {}


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml as a dict, a copy of its own for each caller. Parsed once per version of the
    file: parsing takes about 140 ms, and every test's table and stream reader asks for it."""
    path = Path(path)
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    parsed = _PARSED.get(key)
    if parsed is None:
        parsed = _PARSED[key] = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - a safe loader subclass
    return copy.deepcopy(parsed)


def table_definition(path: Path = TEMPLATE, logical_id: str = "Table") -> dict[str, Any]:
    return load_template(path)["Resources"][logical_id]["Properties"]


def create_table(client: Any, table_name: str, path: Path = TEMPLATE, *, stream: bool = True) -> bool:
    """Create the table (and its TTL) as template.yaml defines it; False if it already exists.
    `stream=False` leaves its stream out, for a table nothing reads the stream of (DynamoDB Local
    slows every write to a streamed table with the stream records it holds: `DynamoDBLocal.restart`)."""
    props = table_definition(path)
    if table_name in client.list_tables().get("TableNames", []):
        return False
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if stream and props.get("StreamSpecification"):
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    client.create_table(**kwargs)
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(
            TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )
    return True
