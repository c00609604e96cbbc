"""``shipyard lineage``: where a run or a piece of data came from and what used it, as a tree."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text
from rich.tree import Tree

from shipyard.cli.output import JsonOption, console, emit_json, short_digest
from shipyard.cli.state import get_client
from shipyard.tracking.model import LineageGraph, LineageNode, NodeKind


def graph_dict(graph: LineageGraph) -> dict[str, object]:
    def node(n: LineageNode) -> dict[str, str]:
        return {"kind": n.kind.value, "id": n.id, "label": n.label}

    return {
        "subject": node(graph.subject),
        "nodes": [node(n) for n in graph.nodes],
        "edges": [{"source": e.source, "target": e.target, "relation": e.relation} for e in graph.edges],
    }


def node_text(node: LineageNode, relation: str = "") -> Text:
    if node.kind is NodeKind.RUN:
        text = Text.assemble(("run ", "bold cyan"), (node.label, "bold"), f"  {node.id}")
    elif node.kind is NodeKind.SOURCE:
        fingerprint = node.id.rsplit("#", 1)[-1]
        text = Text.assemble(("source file ", "bold blue"), (node.label, "bold"), f"  {fingerprint}")
    elif node.kind is NodeKind.FEATURE_VIEW:
        text = Text.assemble(("feature view ", "bold green"), (node.label, "bold"))
    elif node.kind is NodeKind.MODEL_VERSION:
        text = Text.assemble(("model version ", "bold yellow"), (node.label, "bold"))
    else:
        text = Text.assemble(("data ", "bold magenta"), (node.label, "bold"), f"  {short_digest(node.id)}")
    if relation:
        text.append(f"  [{relation}]", style="dim")
    return text


class _Walker:
    """Expands the graph from the subject: upstream follows producers and inputs, downstream
    follows consumers and outputs. A node reached again is listed but not expanded twice."""

    def __init__(self, graph: LineageGraph) -> None:
        self.nodes = {n.id: n for n in graph.nodes}
        self.nodes.setdefault(graph.subject.id, graph.subject)
        self.edges = graph.edges
        self.expanded: set[tuple[str, bool]] = set()

    def upstream(self, node_id: str) -> list[tuple[str, str]]:
        """(node id, relation) pairs one step up: a run's inputs, or the runs that produced data."""
        return [(e.source, e.relation) for e in self.edges if e.target == node_id]

    def downstream(self, node_id: str) -> list[tuple[str, str]]:
        """(node id, relation) pairs one step down: a run's outputs, or the runs that used data."""
        return [(e.target, e.relation) for e in self.edges if e.source == node_id]

    def grow(self, tree: Tree, node_id: str, up: bool) -> None:
        self.expanded.add((node_id, up))
        for next_id, relation in self.upstream(node_id) if up else self.downstream(node_id):
            node = self.nodes.get(next_id)
            if node is None:
                continue
            label = node_text(node, relation)
            if (next_id, up) in self.expanded:
                if self.upstream(next_id) if up else self.downstream(next_id):
                    label.append("  (expanded above)", style="dim italic")
                tree.add(label)
            else:
                self.grow(tree.add(label), next_id, up)


def lineage(
    ctx: typer.Context,
    subject: Annotated[
        str,
        typer.Argument(
            help="A run id, a dataset id, a digest 'sha256:<hex>' or RUN_ID/ARTIFACT_PATH.",
            show_default=False,
        ),
    ],
    depth: Annotated[
        int, typer.Option("--depth", "-d", min=1, max=20, help="How many runs deep to follow each way.")
    ] = 2,
    json: JsonOption = False,
) -> None:
    """Show the lineage of a run or a piece of data: what it came from and what used it."""
    graph = get_client(ctx).tracking.lineage(subject, depth)
    if json:
        emit_json(graph_dict(graph))
        return
    walker = _Walker(graph)
    root = Tree(node_text(graph.subject))
    up = root.add(Text("upstream (came from)", style="bold green"))
    walker.grow(up, graph.subject.id, True)
    down = root.add(Text("downstream (used by / produced)", style="bold yellow"))
    walker.grow(down, graph.subject.id, False)
    for branch in (up, down):
        if not branch.children:
            branch.add(Text("nothing recorded", style="dim"))
    console.print(root)
