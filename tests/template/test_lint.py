"""cfn-lint over template.yaml: no error, no warning."""

from __future__ import annotations

from tests.template.support import TEMPLATE


def test_cfn_lint_finds_no_error_and_no_warning() -> None:
    # GIVEN cfn-lint with its default rules (the SAM transform included)
    from cfnlint.api import lint_file

    # WHEN it lints template.yaml
    matches = lint_file(TEMPLATE)

    # THEN nothing but informational notes comes back
    problems = [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches
                if m.rule.severity.lower() in {"error", "warning"}]
    assert problems == []


def test_cfn_lint_would_catch_a_broken_template(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # GIVEN template.yaml with one property of the wrong type
    from cfnlint.api import lint_file

    broken = tmp_path / "template.yaml"
    text = TEMPLATE.read_text()
    assert "maxReceiveCount: 3" in text
    broken.write_text(text.replace("maxReceiveCount: 3", "maxReceiveCount: three", 1))

    # WHEN it is linted THEN the error is reported (the check above can fail)
    assert any(m.rule.id.startswith("E") for m in lint_file(broken))
