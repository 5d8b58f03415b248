"""Cold start: each Lambda handler module's import time in a fresh process, against importing
botocore + aws_lambda_powertools (what any of our functions loads anyway), in the same run.

"Importing botocore" is taken as importing `botocore.session`, the part of the SDK that every
client needs: `import botocore` alone runs only the package's `__init__` (a few milliseconds,
none of the SDK), so a function that talks to any AWS service could never be within 1.5 times of
it except by putting off its SDK import to its first invocation, which would only move the cost
(and out of the init phase, which runs with more CPU). The literal figure is in the detail.

Each process gets the environment a Lambda function has (AWS_LAMBDA_FUNCTION_NAME and the
template's Powertools settings), the layer and the code on PYTHONPATH, as in /opt/python and
/var/task. Runs are interleaved (baseline, every module, again) and the medians compared."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.results import Result

REPO_ROOT = Path(__file__).resolve().parents[1]
BASELINE = "botocore.session + aws_lambda_powertools"
BASELINE_MODULES = ["botocore.session", "aws_lambda_powertools"]
LITERAL_MODULES = ["botocore", "aws_lambda_powertools"]
_TIMER = ("import importlib, sys, time\n"
          "t = time.perf_counter()\n"
          "for name in sys.argv[1:]:\n"
          "    importlib.import_module(name)\n"
          "print(time.perf_counter() - t)\n")


def handler_modules() -> list[str]:
    """`app` (the Chalice app) and every `functions.<name>.app`."""
    found = sorted(f"functions.{p.parent.name}.app" for p in (REPO_ROOT / "functions").glob("*/app.py"))
    return ["app", *found]


def _env(module: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "POWERTOOLS_"))}
    name = "api" if module == "app" else module.split(".")[1]
    return {
        **keep,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "layers" / "common" / "python")]),
        "AWS_LAMBDA_FUNCTION_NAME": f"orderdesk-{name}",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "orderdesk",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "TABLE_NAME": "orderdesk",
        "PYTHONDONTWRITEBYTECODE": "",
    }


def import_seconds(modules: list[str], env_for: str) -> float:
    out = subprocess.run([sys.executable, "-c", _TIMER, *modules], env=_env(env_for), cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"importing {' '.join(modules)} failed: {out.stderr.strip()[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def importtime_top(module: str, top: int = 8) -> list[dict[str, Any]]:
    """The packages that cost the most (cumulative, first level below the module), by -X importtime."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], env=_env(module),
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    rows = []
    for line in out.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m.group(2)), len(m.group(3)), m.group(4)))
    # the direct children of the top-level import, heaviest first
    depth = min((d for _, d, name in rows if name == module.split(".")[0]), default=1)
    children = [(us, name) for us, d, name in rows if d == depth + 2 or (d == depth and name != module)]
    children.sort(reverse=True)
    return [{"module": name, "ms": round(us / 1000, 1)} for us, name in children[:top]]


def measure(runs: int = 7) -> Result:
    modules = handler_modules()
    for module in modules:  # compile once: a deployed package carries its .pyc
        import_seconds([module], module)
    times: dict[str, list[float]] = {BASELINE: [], "literal": [], **{m: [] for m in modules}}
    for _ in range(runs):
        times[BASELINE].append(import_seconds(BASELINE_MODULES, "functions.baseline.app"))
        times["literal"].append(import_seconds(LITERAL_MODULES, "functions.baseline.app"))
        for module in modules:
            times[module].append(import_seconds([module], module))
    base = statistics.median(times[BASELINE])
    ratios = {m: statistics.median(times[m]) / base for m in modules}
    slowest = max(ratios, key=lambda m: ratios[m])
    return Result("cold_start_ratio_max", round(ratios[slowest], 3), "ratio", {
        "target": "<= 1.5",
        "runs": runs,
        "baseline": BASELINE,
        "baseline_ms": round(base * 1000, 1),
        "literal_baseline": "import botocore, aws_lambda_powertools",
        "literal_baseline_ms": round(statistics.median(times["literal"]) * 1000, 1),
        "slowest_ratio_to_literal_baseline": round(statistics.median(times[slowest]) / statistics.median(
            times["literal"]), 3),
        "slowest": slowest,
        "modules": {m: {"ms": round(statistics.median(times[m]) * 1000, 1), "ratio": round(ratios[m], 3)}
                    for m in modules},
        "slowest_imports": importtime_top(slowest),
    })
