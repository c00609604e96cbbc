"""Run every benchmark (``make bench``) and print one table of figures against targets.

``python benchmarks/run.py [name ...]`` runs only the named ones (e.g. ``search``); ``--json FILE``
also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from common import Result  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    chosen = [m for m in modules if not args.names or any(n in m for n in args.names)]
    console = Console()
    results: list[Result] = []
    for name in chosen:
        with console.status(f"running {name}"):
            results.extend(importlib.import_module(name).run())
        console.print(f"[green]done[/] {name}")
    table = Table(
        title=f"Shipyard benchmarks ({platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()})"
    )
    for column in ("benchmark", "measured", "target", ""):
        table.add_column(column, justify="right" if column in ("measured", "target") else "left")
    for r in results:
        verdict = "" if r.ok is None else ("[green]ok[/]" if r.ok else "[red]missed[/]")
        target = "" if r.target is None else f"{'>=' if r.higher else '<'} {r.target:g} {r.unit}"
        table.add_row(
            r.name + (f"\n[dim]{r.note}[/]" if r.note else ""), f"{r.value:,.3f} {r.unit}", target, verdict
        )
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=2))
    return 0 if all(r.ok is not False for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
