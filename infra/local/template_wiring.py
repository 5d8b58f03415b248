"""What the local stack reads from template.yaml besides the table: the functions and their
handlers, the SQS queues (dead-letter queues and redrive policies included), the event sources
that feed functions (SQS, DynamoDB stream, schedules) and the environment the template gives
the functions.

Only reading here, no AWS call: the stack turns these definitions into moto resources, pollers
and timers. Intrinsics are resolved against the local resources where that makes sense
(``Ref``/``Fn::GetAtt`` of a queue, state machine or the table, ``Fn::Sub`` of pseudo parameters
and parameter defaults); anything that only exists in AWS (a Cognito pool's URL, a
``{{resolve:...}}`` secret) resolves to ``None`` and is left out locally.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger(__name__)

STACK_NAME = "orderdesk"
ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"

_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")

# CloudFormation's AWS::SQS::Queue properties → SQS attribute names (RedrivePolicy handled apart)
_QUEUE_ATTRIBUTES = {
    "DelaySeconds": "DelaySeconds",
    "MaximumMessageSize": "MaximumMessageSize",
    "MessageRetentionPeriod": "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout": "VisibilityTimeout",
    "FifoQueue": "FifoQueue",
    "ContentBasedDeduplication": "ContentBasedDeduplication",
}


class Unresolvable(Exception):
    """An intrinsic that has no local value."""


@dataclass
class Resolver:
    """Resolves intrinsics against the template's parameters and the local resources.

    ``refs`` maps a logical id to its ``Ref`` value; ``attributes`` maps ``(logical id,
    attribute)`` to its ``Fn::GetAtt`` value. Both grow as the stack creates resources."""

    parameters: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)

    @classmethod
    def for_template(cls, template: Mapping[str, Any]) -> Resolver:
        params = {name: spec.get("Default") for name, spec in (template.get("Parameters") or {}).items()}
        return cls(parameters=params)

    def _ref(self, name: str) -> Any:
        pseudo = {"AWS::StackName": STACK_NAME, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID,
                  "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None}
        if name in pseudo:
            return pseudo[name]
        if name in self.refs:
            return self.refs[name]
        if name in self.parameters and self.parameters[name] is not None:
            return self.parameters[name]
        raise Unresolvable(f"Ref {name}")

    def _getatt(self, value: Any) -> Any:
        if isinstance(value, str):
            logical_id, _, attribute = value.partition(".")
        else:
            logical_id, attribute = value[0], value[1]
        key = (logical_id, attribute)
        if key not in self.attributes:
            raise Unresolvable(f"GetAtt {logical_id}.{attribute}")
        return self.attributes[key]

    def resolve(self, value: Any) -> Any:
        """The local value of a template value; raises :class:`Unresolvable`."""
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                return self._getatt(arg)
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                local = {k: self.resolve(v) for k, v in variables.items()}

                def substitute(match: re.Match[str]) -> str:
                    name = match[1]
                    if name in local:
                        return str(local[name])
                    if "." in name:
                        return str(self._getatt(name))
                    return str(self._ref(name))

                resolved = _SUB_VAR.sub(substitute, text)
                if "{{resolve:" in resolved:
                    raise Unresolvable("dynamic reference")
                return resolved
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self.resolve(p)) for p in parts)
            if key.startswith("Fn::") or key == "Condition":
                raise Unresolvable(key)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, str) and "{{resolve:" in value:
            raise Unresolvable("dynamic reference")
        return value

    def try_resolve(self, value: Any) -> Any | None:
        try:
            return self.resolve(value)
        except Unresolvable:
            return None


def resources_of_type(template: Mapping[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {lid: res for lid, res in (template.get("Resources") or {}).items() if res.get("Type") in types}


def logical_id_of(value: Any) -> str | None:
    """The logical id a ``Ref`` / ``Fn::GetAtt`` / ``Fn::Sub`` of one resource points at."""
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref" and isinstance(arg, str):
            return arg
        if key == "Fn::GetAtt":
            return arg.partition(".")[0] if isinstance(arg, str) else str(arg[0])
        if key == "Fn::Sub" and isinstance(arg, str):
            names = [m.partition(".")[0] for m in _SUB_VAR.findall(arg) if not m.startswith("AWS::")]
            return names[0] if len(names) == 1 else None
    return None


# Functions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionDef:
    logical_id: str
    name: str  # FunctionName when the template sets one, else the logical id
    handler: str  # "functions.cleanup.app.handler": CodeUri as a package + Handler
    timeout_seconds: float
    memory_mb: int
    events: dict[str, dict[str, Any]]
    environment: dict[str, Any]


def handler_path(code_uri: str, handler: str) -> str:
    """SAM ``CodeUri: functions/cleanup/`` + ``Handler: app.handler`` → ``functions.cleanup.app.handler``."""
    package = ".".join(p for p in code_uri.strip("./").split("/") if p)
    return f"{package}.{handler}" if package else handler


def functions_in(template: Mapping[str, Any], resolver: Resolver | None = None) -> dict[str, FunctionDef]:
    resolver = resolver or Resolver.for_template(template)
    globals_ = ((template.get("Globals") or {}).get("Function")) or {}
    out: dict[str, FunctionDef] = {}
    for lid, res in resources_of_type(template, "AWS::Serverless::Function").items():
        props = res.get("Properties") or {}
        code_uri, handler = props.get("CodeUri", globals_.get("CodeUri")), props.get("Handler", globals_.get("Handler"))
        if not isinstance(code_uri, str) or not isinstance(handler, str):
            LOG.info("template function %s has no local CodeUri/Handler; not served locally", lid)
            continue
        env = {**((globals_.get("Environment") or {}).get("Variables") or {}),
               **((props.get("Environment") or {}).get("Variables") or {})}
        name = resolver.try_resolve(props["FunctionName"]) if "FunctionName" in props else None
        out[lid] = FunctionDef(
            logical_id=lid,
            name=str(name or lid),
            handler=handler_path(code_uri, handler),
            timeout_seconds=float(resolver.try_resolve(props.get("Timeout", globals_.get("Timeout", 3))) or 3),
            memory_mb=int(resolver.try_resolve(props.get("MemorySize", globals_.get("MemorySize", 128))) or 128),
            events=props.get("Events") or {},
            environment=env,
        )
    return out


# Queues ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueDef:
    logical_id: str
    name: str
    attributes: dict[str, str]  # SQS attributes, RedrivePolicy excluded
    dead_letter_queue: str | None  # logical id of the DLQ
    max_receive_count: int | None


def queues_in(template: Mapping[str, Any], resolver: Resolver | None = None) -> list[QueueDef]:
    """Every AWS::SQS::Queue, dead-letter queues first (a redrive policy needs its DLQ's ARN)."""
    resolver = resolver or Resolver.for_template(template)
    found: dict[str, QueueDef] = {}
    for lid, res in resources_of_type(template, "AWS::SQS::Queue").items():
        props = res.get("Properties") or {}
        name = resolver.try_resolve(props.get("QueueName")) if "QueueName" in props else None
        attributes = {}
        for prop, attribute in _QUEUE_ATTRIBUTES.items():
            if prop in props:
                value = resolver.try_resolve(props[prop])
                if value is not None:
                    attributes[attribute] = str(value).lower() if isinstance(value, bool) else str(value)
        redrive = props.get("RedrivePolicy") or {}
        dlq = logical_id_of(redrive.get("deadLetterTargetArn")) if redrive else None
        max_receive = resolver.try_resolve(redrive.get("maxReceiveCount")) if redrive else None
        fifo = attributes.get("FifoQueue") == "true"
        default_name = f"{STACK_NAME}-{lid}" + (".fifo" if fifo else "")
        found[lid] = QueueDef(lid, str(name or default_name), attributes, dlq,
                              int(max_receive) if max_receive is not None else None)
    return sorted(found.values(), key=lambda q: (q.dead_letter_queue is not None, q.logical_id))


def encryption_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """An AWS::S3::Bucket encryption rule (CloudFormation's names) as S3's API takes it."""
    out: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": dict(rule.get("ServerSideEncryptionByDefault") or {})}
    if "BucketKeyEnabled" in rule:
        out["BucketKeyEnabled"] = bool(rule["BucketKeyEnabled"])
    return out


def lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """An AWS::S3::Bucket lifecycle rule (CloudFormation's names) as S3's API takes it."""
    out: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule.get("Status", "Enabled"),
                           "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(abort["DaysAfterInitiation"])}
    return out


def redrive_policy(queue: QueueDef, dlq_arn: str) -> str:
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count or 10})


# Event sources ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSource:
    function: FunctionDef
    name: str  # the event's key under Events
    type: str  # SQS, DynamoDB, Schedule, ScheduleV2
    properties: dict[str, Any]

    @property
    def target(self) -> str | None:
        """Logical id of the queue / table the event reads."""
        key = {"SQS": "Queue", "DynamoDB": "Stream"}.get(self.type)
        return logical_id_of(self.properties.get(key)) if key else None


def event_sources_in(functions: Mapping[str, FunctionDef], *types: str) -> list[EventSource]:
    out = []
    for function in functions.values():
        for name, event in function.events.items():
            if event.get("Type") in types:
                out.append(EventSource(function, name, event["Type"], event.get("Properties") or {}))
    return out


def schedule_enabled(props: Mapping[str, Any]) -> bool:
    state = props.get("State")
    if isinstance(state, str):
        return state.upper() == "ENABLED"
    enabled = props.get("Enabled", True)
    return enabled is not False and str(enabled).lower() != "false"


# Environment -----------------------------------------------------------------------------------


def function_environment(functions: Mapping[str, FunctionDef], resolver: Resolver) -> dict[str, str]:
    """The variables the template gives its functions that have a local value.

    Every handler runs in this one process, so they share one environment: a name set to two
    different values by two functions keeps the first, with a warning."""
    env: dict[str, str] = {}
    for function in functions.values():
        for name, raw in function.environment.items():
            value = resolver.try_resolve(raw)
            if value is None or isinstance(value, (dict, list)):
                continue
            text = str(value).lower() if isinstance(value, bool) else str(value)
            if name in env and env[name] != text:
                LOG.warning("template sets %s to %r and %r for different functions; locally %r", name, env[name],
                            text, env[name])
                continue
            env[name] = text
    return env


def resource_variables(functions: Mapping[str, FunctionDef], resolver: Resolver) -> set[str]:
    """The variables whose template value points at a resource the stack made (``!Ref BulkQueue``),
    as opposed to plain settings (``FRAUD_PROVIDER: rules``) or parameters."""
    made = set(resolver.refs) | {lid for lid, _ in resolver.attributes}
    return {name for function in functions.values() for name, raw in function.environment.items()
            if logical_id_of(raw) in made}
