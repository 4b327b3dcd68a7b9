"""``mlstack drift -s STACK``: what changed behind a stack's back, and what to do about it.

Exit codes, for CI: 0 no drift, 1 drift found (every finding printed), 2 the stack could
not be read (one line saying why, nothing else).
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from mlstack.audit.drift import DriftReport, drift_report
from mlstack.cli.lineage import Format, FormatOption, StackOption
from mlstack.errors import MlstackError
from mlstack.stack import open_stack

console = Console(highlight=False)
stderr = Console(stderr=True, soft_wrap=True)
NO_DRIFT, DRIFT, UNREADABLE = 0, 1, 2


def _table(report: DriftReport) -> Table:
    table = Table(title=f"drift of stack {report.stack} ({report.target})", show_lines=True)
    table.add_column("finding")
    table.add_column("what", overflow="fold")
    table.add_column("detail", overflow="fold")
    table.add_column("what to do", overflow="fold")
    for finding in report.findings:
        table.add_row(finding.kind, finding.subject, finding.detail, "\n".join(finding.fixes))
    return table


def drift_command(stack: StackOption = None, output: FormatOption = Format.table) -> None:
    """Report versions no resource registered, state the workspace contradicts, and
    endpoint traffic changed outside Pulumi. Exit 0: none, 1: drift, 2: unreadable."""
    try:
        report = drift_report(open_stack(stack))
    except MlstackError as error:
        stderr.print(f"[bold red]error:[/] {error}", highlight=False)
        raise typer.Exit(UNREADABLE) from None
    if output is Format.json:
        print(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    elif report.drift:
        console.print(_table(report))
    else:
        console.print(f"stack {report.stack}: no drift (state, workspace and endpoints agree)")
    raise typer.Exit(DRIFT if report.drift else NO_DRIFT)
