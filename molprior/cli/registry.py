"""``molprior registry``: look models up in the MLflow model registry, compare and promote them.

Works against ``$MLFLOW_TRACKING_URI`` (a remote ``mlflow server``) or the local
``sqlite:///mlflow.db``.
"""

from __future__ import annotations

import argparse
import json

from molprior.errors import InputError


def add_parser(commands) -> None:
    parser = commands.add_parser("registry", help="list, show, search, compare and promote registered models",
                                 description="Registered models in the MLflow model registry at $MLFLOW_TRACKING_URI "
                                             "(default sqlite:///mlflow.db).")
    sub = parser.add_subparsers(dest="registry_command", metavar="COMMAND")
    sub.required = True
    listing = sub.add_parser("list", help="registered models with their aliases and headline metric")
    listing.set_defaults(handler=run_list)
    show = sub.add_parser("show", help="one version: lineage and metrics")
    show.add_argument("model", help="NAME, NAME@ALIAS or NAME/VERSION")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=run_show)
    search = sub.add_parser("search", help="versions by assay, target, task type, tag or text")
    search.add_argument("text", nargs="?", help="free text found in a name, description or tag value")
    search.add_argument("--assay", help="an assay the model scores or was meta-trained on")
    search.add_argument("--target", help="a target, e.g. CHEMBL214")
    search.add_argument("--task-type", choices=("classification", "regression"))
    search.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="exact tag value (repeatable)")
    search.set_defaults(handler=run_search)
    promote = sub.add_parser("promote", help="point an alias at a version if it beats the holder",
                             description="Point ALIAS at NAME's VERSION when its benchmark metric beats the current "
                                         "holder's; --force overrides (give --reason). The decision is recorded as "
                                         "tags on the version.")
    promote.add_argument("name")
    promote.add_argument("version")
    promote.add_argument("--alias", default="champion")
    promote.add_argument("--force", action="store_true", help="promote even if it does not beat the holder "
                                                               "(needs --reason)")
    promote.add_argument("--reason", help="why (recorded as a tag)")
    promote.set_defaults(handler=run_promote)
    compare = sub.add_parser("compare", help="two versions side by side")
    compare.add_argument("first", help="NAME/VERSION or NAME@ALIAS")
    compare.add_argument("second", help="VERSION (same model), NAME/VERSION or NAME@ALIAS")
    compare.set_defaults(handler=run_compare)


def _table(rows: list[dict], columns: list[str], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*[str(row.get(c, "")) for c in columns])
    Console(width=160).print(table)


def run_list(args: argparse.Namespace) -> int:
    from molprior.tracking.registry import list_models
    from molprior.tracking.runs import tracking_uri

    rows = list_models()
    if not rows:
        print(f"no registered models in {tracking_uri()}")
        return 0
    _table(rows, ["name", "versions", "latest", "aliases", "metric", "description"], f"registered models ({tracking_uri()})")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from molprior.tracking.registry import describe, get_version

    info = describe(get_version(args.model))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    aliases = ", ".join(f"@{a}" for a in info["aliases"]) or "none"
    print(f"{info['name']} version {info['version']}  (aliases: {aliases}; {info['status']}; created {info['created']} UTC)")
    print(f"  source: {info['source']}")
    print(f"  run:    {info['run_id']}")
    if info["description"]:
        print(f"  {info['description']}")
    print("metrics:")
    for key, value in sorted(info["metrics"].items()):
        print(f"  {key:<40} {value:.4f}")
    print("lineage:")
    for key, value in info["lineage"].items():
        print(f"  {key:<40} {value}")
    return 0


def run_search(args: argparse.Namespace) -> int:
    from molprior.tracking.registry import search

    tags = {}
    for item in args.tag:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--tag {item!r}: expected KEY=VALUE")
        tags[key] = value
    rows = search(args.assay, args.target, args.task_type, args.text, tags)
    if not rows:
        print("no registered version matches")
        return 1
    _table(rows, ["model", "aliases", "task_type", "assays", "metric"], "matching versions")
    return 0


def run_promote(args: argparse.Namespace) -> int:
    import sys

    from molprior.tracking.registry import promote

    if args.force and not (args.reason or "").strip():
        print("molprior registry promote: error: --force needs --reason TEXT (why the version is promoted anyway; "
              "it is recorded on the version)", file=sys.stderr)
        return 2
    print(promote(args.name, args.version, args.alias, args.force, args.reason).message)
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from molprior.tracking.registry import compare, parse_spec

    second = args.second
    if second.isdigit():  # a bare version of the first model
        second = f"{parse_spec(args.first)[0]}/{second}"
    rows = compare(args.first, second)
    _table([{"field": f, "first": a, "second": b, "differs": "*" if a != b else ""} for f, a, b in rows],
           ["field", "first", "second", "differs"], f"{args.first} vs {second}")
    return 0
