"""Keep the API Gateway definition in template.yaml in step with the Chalice app's routes.

API Gateway must have a resource for every Chalice route, with the same path template (Chalice
dispatches on the resource path API Gateway reports, `{order_id}` included), and the Lambda
authorizer on exactly the routes that Chalice protects. The `paths:` block of the Api resource is
therefore generated from `app.app.routes`, between the BEGIN/END marker comments, and
tests/template checks it is current:

    python -m infra.api_routes           # rewrite the block in template.yaml
    python -m infra.api_routes --check   # exit 1 when template.yaml is behind app.py
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = REPO_ROOT / "template.yaml"
BEGIN = "# BEGIN routes"
END = "# END routes"
SECURITY_SCHEME = "jwt"
# The integration and authorizer URIs name the functions by their FunctionName, not by GetAtt,
# because a GetAtt would close a cycle: API -> function -> Cognito app client (audience) -> API
# (the hosted UI's callback URL is the portal's, which is the API's).
API_FUNCTION_NAME = "${AWS::StackName}-api"
AUTHORIZER_FUNCTION_NAME = "${AWS::StackName}-authorizer"


def lambda_arn(function_name: str) -> str:
    return f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{function_name}"


def invocation_uri(function_name: str) -> str:
    return (f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/"
            f"{lambda_arn(function_name)}/invocations")


@dataclass(frozen=True)
class Route:
    path: str
    method: str  # upper case, as Chalice keeps it
    authorized: bool

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"{([^}/]+)}", self.path)


def chalice_routes(app: Any) -> list[Route]:
    """Every (path, method) the Chalice app serves, and whether its authorizer guards it."""
    routes = [
        Route(path, method.upper(), entry.authorizer is not None)
        for path, methods in app.routes.items()
        for method, entry in methods.items()
    ]
    return sorted(routes, key=lambda r: (r.path, r.method))


def load_app() -> Any:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    import app as app_module

    return app_module.app


def render(routes: list[Route], indent: int) -> list[str]:
    """The YAML lines of the `paths:` entries, at the given indentation."""
    pad = " " * indent
    out: list[str] = []
    by_path: dict[str, list[Route]] = {}
    for route in routes:
        by_path.setdefault(route.path, []).append(route)
    for path, methods in by_path.items():
        out.append(f"{pad}{path}:")
        for route in methods:
            out.append(f"{pad}  {route.method.lower()}:")
            out.append(f"{pad}    operationId: {route.method.lower()}{_camel(route.path)}")
            if route.parameters:
                out.append(f"{pad}    parameters:")
                for name in route.parameters:
                    out.append(f"{pad}      - {{name: {name}, in: path, required: true, schema: {{type: string}}}}")
            if route.authorized:
                out.append(f"{pad}    security: [{{{SECURITY_SCHEME}: []}}]")
            out.append(f"{pad}    x-amazon-apigateway-integration:")
            out.append(f"{pad}      type: aws_proxy")
            out.append(f"{pad}      httpMethod: POST")
            out.append(f'{pad}      uri: !Sub "{invocation_uri(API_FUNCTION_NAME)}"')
    return out


def _camel(path: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", path.replace("{", "By ").replace("}", ""))
    return "".join(w[:1].upper() + w[1:] for w in words) or "Root"


def _block(lines: list[str]) -> tuple[int, int, int]:
    """Indices of the BEGIN and END marker lines, and the indentation of the entries."""
    begin = next((i for i, line in enumerate(lines) if line.strip().startswith(BEGIN)), None)
    end = next((i for i, line in enumerate(lines) if line.strip().startswith(END)), None)
    if begin is None or end is None or end < begin:
        raise SystemExit(f"template.yaml has no '{BEGIN}' ... '{END}' block")
    indent = len(lines[begin]) - len(lines[begin].lstrip())
    return begin, end, indent


def updated_template(text: str, routes: list[Route]) -> str:
    lines = text.split("\n")
    begin, end, indent = _block(lines)
    return "\n".join(lines[: begin + 1] + render(routes, indent) + lines[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only tell whether template.yaml is current")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    args = parser.parse_args(argv)
    text = args.template.read_text()
    new = updated_template(text, chalice_routes(load_app()))
    if new == text:
        print("template.yaml: the API routes match app.py")
        return 0
    if args.check:
        print("template.yaml: the API routes differ from app.py; run: python -m infra.api_routes", file=sys.stderr)
        return 1
    args.template.write_text(new)
    print("template.yaml: API routes rewritten from app.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
