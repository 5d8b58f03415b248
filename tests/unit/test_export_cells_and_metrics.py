"""Two small pieces on their own: an export's CSV cell (escaped so a spreadsheet never runs it as a
formula) and the business metrics' EMF lines (what CloudWatch reads from a function's log), with
the API's cold start left without Powertools Metrics."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from orderdesk import metrics
from orderdesk.config import reset_settings
from orderdesk.domain.exports import COLUMNS, HEADINGS, csv_cell

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+2", "'=1+2"), ("+44 20 7946 0000", "'+44 20 7946 0000"), ("-5", "'-5"), ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\tcmd", "'\tcmd"), ("\rcmd", "'\rcmd"), ("Ada", "Ada"), ("a=b", "a=b"), ("", ""), (None, ""), (12, "12"),
    ("'quoted", "'quoted"),
])
def test_a_cell_that_would_start_a_formula_is_escaped_and_others_are_kept(value, cell):
    assert csv_cell(value) == cell


def test_an_escaped_cell_survives_csv_quoting_as_text():
    # GIVEN a row with a formula, a comma, quotes and a line break
    row = [csv_cell('=HYPERLINK("http://x.test","click")'), csv_cell("Doe, Jane"), csv_cell('say "hi"\nbye')]
    out = io.StringIO()
    csv.writer(out).writerow(row)
    # WHEN it is read back THEN each cell is what was written, the formula starting with '
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ['\'=HYPERLINK("http://x.test","click")', "Doe, Jane",
                                                             'say "hi"\nbye']


def test_every_column_has_a_heading_once():
    assert len(HEADINGS) == len(COLUMNS) == len(set(HEADINGS))
    assert HEADINGS[0] == "Order number" and "Order id" in HEADINGS


@pytest.fixture()
def metric_env(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "OrderDesk/unit")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "orderdesk")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv("POWERTOOLS_DEV", "false")
    reset_settings()
    metrics.flush()
    yield
    metrics.flush()
    reset_settings()


def emf_lines(text: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def test_metrics_are_written_as_one_emf_line_per_set_of_dimensions(metric_env, capsys):
    # GIVEN metrics added while a handler runs
    @metrics.flushed
    def handler(event, context):  # type: ignore[no-untyped-def]
        metrics.add(metrics.ORDERS_PLACED, 1)
        metrics.add(metrics.ORDERS_PLACED, 1)
        metrics.add(metrics.BULK_ORDERS_MOVED, 250)
        metrics.add(metrics.REFUNDED_AMOUNT, 12.5, unit="None", currency="USD")
        metrics.add(metrics.FRAUD_DECISIONS, 1, decision="review")
        return "done"

    # WHEN it returns
    assert handler({}, None) == "done"
    lines = emf_lines(capsys.readouterr().out)
    # THEN the plain counts share a line, each dimensioned metric has its own, all in the namespace
    by_dims = {tuple(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]): line for line in lines}
    assert set(by_dims) == {("service",), ("currency", "service"), ("decision", "service")}
    assert all(line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "OrderDesk/unit" for line in lines)
    plain = by_dims[("service",)]
    assert plain["OrdersPlaced"] == [1.0, 1.0] and plain["BulkOrdersMoved"] == [250.0]
    assert plain["service"] == "orderdesk"
    assert (by_dims[("currency", "service")]["currency"], by_dims[("currency", "service")]["RefundedAmount"]) == (
        "USD", [12.5])
    assert by_dims[("decision", "service")]["decision"] == "review"
    assert by_dims[("currency", "service")]["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "RefundedAmount", "Unit": "None"}]
    # AND a second flush writes nothing more
    metrics.flush()
    assert emf_lines(capsys.readouterr().out) == []


def test_metrics_are_written_when_the_handler_raises_too(metric_env, capsys):
    @metrics.flushed
    def handler(event, context):  # type: ignore[no-untyped-def]
        metrics.add(metrics.FAILED_ACTIONS, 1)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        handler({}, None)
    assert emf_lines(capsys.readouterr().out)[0]["FailedActions"] == [1.0]


def test_disabled_metrics_write_nothing_and_an_unknown_one_is_refused(metric_env, capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics.add(metrics.ORDERS_PLACED, 1)
    metrics.flush()
    assert emf_lines(capsys.readouterr().out) == []
    with pytest.raises(ValueError, match="OrdersPlacedd"):
        metrics.add("OrdersPlacedd", 1)


def test_the_api_builds_no_metrics_and_the_metrics_module_imports_powertools_only_when_used():
    # GIVEN fresh interpreters, as cold starts are: one importing the metrics module alone, one the
    # API (Powertools' package imports its Metrics with its Logger, which the API uses: that cost
    # is not ours to avoid; what is ours is to add nothing to it)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT}/layers/common/python",
           "AWS_REGION": "us-east-1"}

    def loaded(code: str) -> list[str]:
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                             check=True).stdout
        return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]

    alone = loaded("import json, sys\nimport orderdesk.metrics\n"
                   "print(json.dumps([m for m in sys.modules if m.startswith('aws_lambda_powertools')]))")
    api = loaded("import json, sys\nimport app\nfrom orderdesk import metrics\n"
                 "print(json.dumps([m for m in sys.modules if m.startswith('orderdesk.services.projections')]"
                 " + [str(len(metrics._pending))]))")
    # THEN the metrics module loads no Powertools until a metric is added, and the API loads none of
    # the stream's views (where the metrics are added) and holds no metric set
    assert alone == []
    assert api == ["0"]
