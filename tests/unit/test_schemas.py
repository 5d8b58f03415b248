"""The models package: every name found where the package says it is, and the API's cold start
free of pydantic (a route's models load with its first call, and only its own area)."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
from chalice import Chalice
from pydantic import BaseModel

from orderdesk import schemas
from orderdesk.api.http import Api
from orderdesk.domain.statuses import Role

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("area", sorted(schemas.AREAS))
def test_the_package_names_every_model_of_an_area_and_nothing_else(area):
    # GIVEN an area's module and the models it defines itself
    module = importlib.import_module(f"orderdesk.schemas.{area}")
    defined = {name for name, obj in vars(module).items()
               if inspect.isclass(obj) and issubclass(obj, BaseModel) and obj.__module__ == module.__name__}
    listed = set(schemas.AREAS[area])
    # THEN the package lists each of them under this area (the field types of `common` too)
    assert defined <= listed, f"not in schemas.AREAS[{area!r}]: {sorted(defined - listed)}"
    # AND every name it lists is found there, as the same object through the package
    for name in listed:
        assert getattr(schemas, name) is getattr(module, name)


def test_the_api_imports_no_pydantic_and_a_route_loads_only_its_own_area():
    # GIVEN a fresh interpreter that imports the API module, as a cold start does
    code = (
        "import json, sys\n"
        "import app\n"
        "cold = sorted(m for m in sys.modules if m.startswith(('pydantic', 'orderdesk.schemas.')))\n"
        "seen = {'cold': cold}\n"
        "for path in ('/orders', '/orders/{order_id}'):\n"
        "    next(s for s in app.api.specs if s.method == 'GET' and s.path == path).models()\n"
        "    seen[path] = sorted(m for m in sys.modules if m.startswith('orderdesk.schemas.'))\n"
        "print(json.dumps(seen))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT}/layers/common/python",
           "AWS_REGION": "us-east-1"}

    # WHEN it has imported the app, then resolved the models of GET /orders, then of GET /orders/{order_id}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                         check=True).stdout
    seen = json.loads(out.strip().splitlines()[-1])

    # THEN the import loaded neither pydantic nor any model
    assert seen["cold"] == []
    # AND the list loaded only its own area, and one order in full the areas its answer nests
    areas = "orderdesk.schemas.{}".format
    assert seen["/orders"] == [areas("common"), areas("orders")]
    assert seen["/orders/{order_id}"] == sorted(areas(a) for a in ("actions", "common", "fraud", "invoices",
                                                                  "order_detail", "orders"))


def test_a_route_naming_no_model_of_the_package_fails_when_it_is_declared():
    # GIVEN a route registry
    api = Api(Chalice(app_name="t"), authorizer=None)

    # WHEN a route names a model the package does not have
    # THEN the declaration fails at once, not at the route's first call
    with pytest.raises(ValueError, match="OrderOutt"):
        api.route("/x", "GET", role=Role.VIEWER, summary="x", response="OrderOutt")(lambda: None)
