"""Every Lambda function of template.yaml: runtime, architecture, code that imports and a handler
that is callable, the shared layer, and every functions/<name>/ deployed. The checks iterate
over whatever functions the template has, so a new function is covered the day it is added."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest

from tests.template import support
from tests.template.support import REPO_ROOT

FUNCTIONS = support.functions()
LAYER_DIR = REPO_ROOT / "layers" / "common"


def handler_target(props: dict) -> tuple[str, str]:  # type: ignore[type-arg]
    """(module to import, attribute) for CodeUri + Handler, as Lambda resolves them: the module
    file inside CodeUri, which may be a link (api/app.py -> app.py): import what it points at."""
    module, _, attribute = props["Handler"].rpartition(".")
    source = (REPO_ROOT / props["CodeUri"] / Path(*module.split("."))).with_suffix(".py")
    assert source.is_file(), f"{props['CodeUri']} has no {module}.py for Handler {props['Handler']}"
    relative = source.resolve().relative_to(REPO_ROOT).with_suffix("")
    return ".".join(relative.parts), attribute


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_handler_resolves_to_a_callable(logical_id: str) -> None:
    # GIVEN a function of the template
    props = FUNCTIONS[logical_id]

    # WHEN its module is imported the way Lambda would (functions.<name>.app locally)
    module_name, attribute = handler_target(props)
    module = importlib.import_module(module_name)

    # THEN the Handler names a callable in it
    assert callable(getattr(module, attribute, None)), f"{module_name}.{attribute} is not callable"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_runs_on_a_current_python_on_arm64_with_the_layer(logical_id: str) -> None:
    # GIVEN a function with the Globals merged in
    props = FUNCTIONS[logical_id]

    # THEN it runs Python 3.12 or newer on Graviton, with the shared layer and tracing
    match = re.fullmatch(r"python3\.(\d+)", props.get("Runtime", ""))
    assert match and int(match[1]) >= 12, props.get("Runtime")
    assert props.get("Architectures") == ["arm64"]
    assert {"Ref": "CommonLayer"} in props.get("Layers", [])
    assert props.get("Tracing") == "Active"
    # memory and timeout are chosen (the Globals give defaults; Lambda's own 128 MB / 3 s are not)
    assert isinstance(props.get("MemorySize"), int) and props["MemorySize"] >= 256
    assert isinstance(props.get("Timeout"), int) and 1 <= props["Timeout"] <= 900


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_has_powertools_environment(logical_id: str) -> None:
    env = FUNCTIONS[logical_id].get("Environment", {}).get("Variables", {})
    for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL", "TABLE_NAME"):
        assert name in env, f"{logical_id} lacks {name}"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_package_has_no_dependencies_of_its_own(logical_id: str) -> None:
    # A requirements.txt in CodeUri would make `sam build` run pip with a python3.12 from PATH
    # (none on the build machines) and could shadow the layer's pins: dependencies go in the layer.
    code_dir = REPO_ROOT / FUNCTIONS[logical_id]["CodeUri"]
    assert not (code_dir / "requirements.txt").exists(), f"move {code_dir}/requirements.txt into the layer"


def test_every_function_directory_is_deployed() -> None:
    # GIVEN the handlers under functions/
    written = {p.parent.name for p in (REPO_ROOT / "functions").glob("*/app.py")}

    # THEN each one is the CodeUri of a function in the template
    deployed = {Path(p["CodeUri"]).name for p in FUNCTIONS.values() if p["CodeUri"].startswith("functions/")}
    assert written - deployed == set(), "functions/ with no template.yaml resource"


def test_api_package_is_the_chalice_app_and_the_portal() -> None:
    # api/ is what sam build zips for the API and the authorizer: links to app.py and portal/
    # (sam build copies what they point at). A stale copy instead of a link would drift.
    assert (REPO_ROOT / "api" / "app.py").resolve() == REPO_ROOT / "app.py"
    portal = REPO_ROOT / "api" / "portal"
    if (REPO_ROOT / "portal").is_dir():
        assert portal.resolve() == REPO_ROOT / "portal"
    api_functions = {lid for lid, p in FUNCTIONS.items() if p["CodeUri"].rstrip("/") == "api"}
    handlers = {FUNCTIONS[lid]["Handler"] for lid in api_functions}
    assert handlers == {"app.app", "app.jwt_auth"}


# -- the layer -------------------------------------------------------------------------------


def _pins(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        assert version, f"not pinned: {line}"
        out[re.sub(r"\[.*\]", "", re.sub(r"[-_.]+", "-", name)).lower().strip()] = version.strip()
    return out


def test_layer_requirements_pin_what_pyproject_pins() -> None:
    # GIVEN the runtime dependencies of pyproject.toml and the layer's requirements
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = _pins(project)
    layer = _pins((LAYER_DIR / "requirements.txt").read_text().splitlines())

    # THEN the layer has every one of them at the same version
    assert {name: layer.get(name) for name in wanted} == wanted


def test_layer_requirements_are_closed_under_their_dependencies() -> None:
    # GIVEN the layer's list (installed with --no-deps, so it must be complete)
    import importlib.metadata as metadata

    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    layer = _pins((LAYER_DIR / "requirements.txt").read_text().splitlines())
    project = [Requirement(r) for r in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    extras = {re.sub(r"[-_.]+", "-", r.name).lower(): set(r.extras) for r in project}
    lambda_env = {**default_environment(), "python_version": "3.12", "python_full_version": "3.12.0",
                  "platform_machine": "aarch64", "sys_platform": "linux", "platform_system": "Linux"}

    # WHEN each one's requirements are read from its installed metadata (same pins in the venv)
    missing = set()
    for name in layer:
        if name == "chalice":
            continue  # only chalice/app.py is needed at run time; its CLI dependencies are left out
        for raw in metadata.distribution(name).requires or []:
            req = Requirement(raw)
            wanted_extras = [""] + sorted(extras.get(name, set()))
            if req.marker is None or any(req.marker.evaluate({**lambda_env, "extra": e}) for e in wanted_extras):
                dep = re.sub(r"[-_.]+", "-", req.name).lower()
                if dep not in layer:
                    missing.add(f"{dep} (for {name})")

    # THEN none is missing
    assert missing == set()


def test_layer_is_built_for_the_functions_runtime_and_architecture() -> None:
    layer = support.resources("AWS::Serverless::LayerVersion")["CommonLayer"]
    runtimes = {p["Runtime"] for p in FUNCTIONS.values()}
    makefile = (LAYER_DIR / "Makefile").read_text()
    version = re.search(r"^LAMBDA_PYTHON_VERSION := (\S+)$", makefile, re.M)
    platforms = re.search(r"^LAMBDA_PLATFORMS := (.+)$", makefile, re.M)

    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["ContentUri"].rstrip("/") == "layers/common"
    assert version and runtimes == {f"python{version[1]}"}
    assert set(layer["Properties"]["CompatibleRuntimes"]) >= runtimes
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert platforms and all(p.endswith("_aarch64") for p in platforms[1].split())
    assert (LAYER_DIR / "python" / "orderdesk" / "__init__.py").is_file()


def test_generated_fernet_key_shape_is_a_valid_key() -> None:
    # GIVEN the SecretsKey secret's generator (letters and digits), handed by its ARN to the steps
    # that still read values stored before KMS, and the '=' the secret store appends to what it fetches
    import random
    import string

    from cryptography.fernet import Fernet

    from orderdesk.adapters.secret_store import fernet_key

    gen = support.resources("AWS::SecretsManager::Secret")["SecretsKey"]["Properties"]["GenerateSecretString"]
    assert gen["ExcludePunctuation"] is True
    env = FUNCTIONS["ProvisionItemFunction"]["Environment"]["Variables"]
    assert env["SECRETS_KEY_ARN"] == {"Ref": "SecretsKey"} and "SECRETS_KEY" not in env
    rng = random.Random(8)

    for _ in range(200):
        # WHEN such a key is made and normalised as the secret store does
        key = fernet_key("".join(rng.choice(string.ascii_letters + string.digits)
                                 for _ in range(gen["PasswordLength"])))
        # THEN Fernet accepts it and round-trips
        assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"secret")) == b"secret"


def _resolves_a_secret(value: object) -> bool:
    """Whether a property value (a string or an intrinsic, at any depth) holds a Secrets Manager
    dynamic reference, which CloudFormation would resolve into the function's configuration."""
    import json

    return "{{resolve:secretsmanager" in json.dumps(value)


def test_no_function_gets_a_secret_value_in_its_environment() -> None:
    # GIVEN every function's environment, the Globals merged in
    for lid, props in FUNCTIONS.items():
        env = props.get("Environment", {}).get("Variables", {})
        # THEN none resolves a secret into it (lambda:GetFunctionConfiguration would show the
        # value): a function gets the secret's ARN and fetches the value (adapters.secret_store)
        leaked = sorted(name for name, value in env.items() if _resolves_a_secret(value))
        assert leaked == [], f"{lid} has secret values in {leaked}; pass <NAME>_ARN: !Ref <Secret>"
    # and the check sees such a reference, in either form the template could write it
    assert _resolves_a_secret({"Fn::Sub": "{{resolve:secretsmanager:${SecretsKey}:SecretString}}="})
    assert _resolves_a_secret({"Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": "X"}, "}}"]]})
    assert not _resolves_a_secret({"Ref": "SecretsKey"})


def test_a_function_given_a_secret_arn_may_read_that_secret_only() -> None:
    # GIVEN the functions handed a secret's ARN (<NAME>_ARN: !Ref <Secret>)
    from orderdesk.adapters.secret_store import NAMES

    secrets = set(support.resources("AWS::SecretsManager::Secret"))
    for lid, props in FUNCTIONS.items():
        env = props.get("Environment", {}).get("Variables", {})
        given = {name: support.logical_id(value) for name, value in env.items()
                 if name.endswith("_ARN") and support.logical_id(value) in secrets}
        # THEN each such variable is a setting the secret store reads
        assert {name.removesuffix("_ARN").lower() for name in given} <= NAMES, f"{lid}: {sorted(given)}"
        # and the function may GetSecretValue on exactly those secrets
        readable = {support.logical_id(p["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"])
                    for p in props.get("Policies", []) if isinstance(p, dict)
                    and "AWSSecretsManagerGetSecretValuePolicy" in p} | _secrets_its_role_reads(props)
        assert readable == set(given.values()), f"{lid} reads {sorted(readable)}, is given {sorted(given)}"


def _secrets_its_role_reads(props: dict) -> set[str | None]:  # type: ignore[type-arg]
    """The secrets a function's own role (`Role: !GetAtt <Role>.Arn`) allows GetSecretValue on."""
    role = support.logical_id(props.get("Role"))
    if role is None:
        return set()
    out: set[str | None] = set()
    for policy in support.template()["Resources"][role]["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "secretsmanager:GetSecretValue" in actions:
                resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                out |= {support.logical_id(r) for r in resources}
    return out


def test_named_functions_fit_with_a_48_character_stack_name() -> None:
    # README and template.yaml promise stack names of up to 48 characters; Lambda allows 64.
    for lid, props in FUNCTIONS.items():
        name = props.get("FunctionName")
        if name is not None:
            text = name["Fn::Sub"]
            assert text.startswith("${AWS::StackName}"), f"{lid}: a fixed name breaks a second stack"
            assert 48 + len(text) - len("${AWS::StackName}") <= 64, f"{lid}: {text} is too long"
