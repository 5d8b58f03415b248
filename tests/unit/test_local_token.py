"""`make token` (infra/local/token.py's main): a person's ID token for ROLE, or a machine client's
access token for CLIENT and SCOPE, signed with the local key and accepted by the settings the
local stack runs with."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from infra.local import machine_clients
from infra.local.stack import AUTH_AUDIENCE, AUTH_ISSUER, LocalFiles, base_environment
from infra.local.token import main
from orderdesk.api import auth
from orderdesk.config import reset_settings
from orderdesk.domain.statuses import Role


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    """A data directory with the keys the stack makes on its first start."""
    LocalFiles(tmp_path).ensure_secrets()
    return tmp_path


@pytest.fixture()
def local_settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The auth settings the local stack runs with on that directory."""
    env = base_environment(LocalFiles(data_dir))
    for name in ("AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_PUBLIC_KEY_FILE", "AUTH_MACHINE_CLIENT_IDS"):
        monkeypatch.setenv(name, env[name])  # type: ignore[arg-type]
    monkeypatch.delenv("AUTH_JWKS_URL", raising=False)
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_client_and_scope_print_only_an_access_token_of_that_client(data_dir, capsys) -> None:  # type: ignore[no-untyped-def]
    # WHEN `make token CLIENT=storefront SCOPE=orderdesk/support`
    code, out, err = run(capsys, "--client", "storefront", "--scope", "orderdesk/support", "--data-dir", str(data_dir))

    # THEN stdout is one line, the token, and it verifies with the local public key as the
    # client-credentials grant's access token: the client is its sub and client_id, no aud
    assert code == 0, err
    assert len(out.splitlines()) == 1
    public = LocalFiles(data_dir).public_key.read_text()
    claims = jwt.decode(out.strip(), public, algorithms=["RS256"], issuer=AUTH_ISSUER)
    assert claims["token_use"] == "access" and "aud" not in claims and "cognito:groups" not in claims
    assert claims["client_id"] == claims["sub"] == machine_clients.client_id("storefront")
    assert claims["scope"] == "orderdesk/support"
    assert 3500 <= claims["exp"] - claims["iat"] <= 3600  # Cognito's default access token life


def test_the_local_stack_takes_the_token_as_the_named_client_with_the_highest_scope(
        data_dir, local_settings, capsys) -> None:  # type: ignore[no-untyped-def]
    # GIVEN a token for the accounting client with two scopes, given as make's SCOPE="a b" passes them
    code, out, _ = run(capsys, "--client", "accounting", "--scope", "orderdesk/viewer orderdesk/billing",
                       "--data-dir", str(data_dir))
    assert code == 0

    # WHEN the local stack's authorizer checks it
    principal = auth.verify(f"Bearer {out.strip()}")

    # THEN it is that client, with the higher of its two roles, named as such in history
    assert principal.role is Role.BILLING
    assert principal.subject == "local-accounting"
    assert principal.actor == "client:accounting"


def test_every_client_make_token_signs_for_is_allowed_by_the_local_stack(data_dir, local_settings, capsys) -> None:  # type: ignore[no-untyped-def]
    for name in machine_clients.NAMES:
        code, out, err = run(capsys, "--client", name, "--scope", "orderdesk/viewer", "--data-dir", str(data_dir))
        assert code == 0, err
        assert auth.verify(f"Bearer {out.strip()}").actor == f"client:{name}"


def test_role_still_prints_a_person_s_id_token(data_dir, local_settings, capsys) -> None:  # type: ignore[no-untyped-def]
    # WHEN `make token ROLE=viewer`
    code, out, _ = run(capsys, "--role", "viewer", "--data-dir", str(data_dir))

    # THEN it is an ID token for the portal's audience, in the viewer group, taken by the stack
    assert code == 0
    public = LocalFiles(data_dir).public_key.read_text()
    claims = jwt.decode(out.strip(), public, algorithms=["RS256"], issuer=AUTH_ISSUER, audience=AUTH_AUDIENCE)
    assert claims["token_use"] == "id" and claims["cognito:groups"] == ["viewer"]
    assert auth.verify(f"Bearer {out.strip()}").role is Role.VIEWER


@pytest.mark.parametrize("args,says", [
    (["--client", "shop"], "unknown client 'shop'"),
    (["--client", "storefront"], "at least one --scope"),
    (["--client", "storefront", "--scope", ""], "at least one --scope"),
    (["--client", "storefront", "--scope", "orderdesk/root"], "unknown scope 'orderdesk/root'"),
    (["--client", "storefront", "--scope", "orderdesk/admin", "--role", "admin"], "not --role"),
    (["--scope", "orderdesk/admin"], "--scope goes with --client"),
    (["--role", "root"], "unknown role 'root'"),
    (["--client", "storefront", "--scope", "orderdesk/admin", "--hours", "0"], "--hours must be positive"),
])
def test_bad_arguments_print_no_token_and_say_why(data_dir, capsys, args, says) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, *args, "--data-dir", str(data_dir))

    assert code == 2 and out == ""
    assert says in err
