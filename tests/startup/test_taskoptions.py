"""The C{--task-*} options: their defaults are the task manager's own, the
values given reach L{TaskTerms}, and a value out of range is a usage
error before anything starts."""

from __future__ import annotations

import pytest

from mcpgateway import tap
from mcpgateway.core.tasks.manager import TaskTerms
from mcpgateway.startup.taskoptions import taskTerms


def parse(*args: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(list(args))
    return options


def test_the_defaults_are_the_task_managers() -> None:
    options = parse()
    assert taskTerms(options) == TaskTerms()
    assert options["task-result-bytes"] == 1024 * 1024
    assert options["task-dir"] is None


def test_the_values_given_reach_the_limits() -> None:
    options = parse(
        "--task-after",
        "0",
        "--task-ttl",
        "60",
        "--max-tasks",
        "3",
        "--max-tasks-per-principal",
        "2",
        "--task-result-bytes",
        "4096",
    )
    assert taskTerms(options) == TaskTerms(after=0.0, ttl=60.0, maxTasks=3, maxPerPrincipal=2)
    assert options["task-result-bytes"] == 4096


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--task-after", "-1"),
        ("--task-ttl", "0"),
        ("--max-tasks", "0"),
        ("--max-tasks-per-principal", "x"),
        ("--task-result-bytes", "-5"),
    ],
)
def test_a_value_out_of_range_is_a_usage_error(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse(flag, value)
    assert "Parameter type enforcement failed" in capsys.readouterr().err
