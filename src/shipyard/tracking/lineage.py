"""Lineage: which runs produced a piece of data, and which runs used it.

Data is identified by digest, so a dataset logged from a file and the artifact a run wrote with
the same bytes are one node. The walk goes upstream (producers, their inputs, their producers, …)
and downstream (consumers, their outputs, …) separately, ``depth`` runs deep each way, so the
graph never wanders sideways into unrelated inputs of a shared consumer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Connection, select

from shipyard.core.ids import is_id
from shipyard.errors import InvalidInput, NotFound
from shipyard.storage.artifacts.content import parse_digest
from shipyard.storage.metadata.base import table
from shipyard.tracking.model import LineageEdge, LineageGraph, LineageNode, NodeKind
from shipyard.tracking.tables import ArtifactRow, DatasetRow, RunDatasetRow, RunRow

runs_t = table(RunRow)
art_t = table(ArtifactRow)
ds_t = table(DatasetRow)
rd_t = table(RunDatasetRow)

MAX_DEPTH = 20


class LineageExtension(Protocol):
    """Nodes and edges another domain adds around tracking's runs and data (the composition root,
    :mod:`shipyard.app`, wires them in): e.g. the feature views and source files a training
    dataset was built from, or the model versions registered from a run."""

    def extend(
        self, conn: Connection, data: set[str], runs: set[str]
    ) -> tuple[list[LineageNode], list[LineageEdge]]: ...


@dataclass
class _Graph:
    nodes: dict[str, LineageNode] = field(default_factory=dict)
    edges: dict[tuple[str, str, str], LineageEdge] = field(default_factory=dict)

    def node(self, kind: NodeKind, node_id: str, label: str) -> None:
        self.nodes.setdefault(node_id, LineageNode(kind, node_id, label))

    def edge(self, source: str, target: str, relation: str) -> None:
        self.edges.setdefault((source, target, relation), LineageEdge(source, target, relation))


def resolve(conn: Connection, subject: str) -> LineageNode:
    """Turn a run id, dataset id, digest or ``<run id>/<artifact path>`` into a node."""
    subject = subject.strip()
    if is_id(subject):
        run = conn.execute(select(runs_t.c.id, runs_t.c.name).where(runs_t.c.id == subject)).first()
        if run is not None:
            return LineageNode(NodeKind.RUN, run.id, run.name)
        ds = conn.execute(select(ds_t.c.digest, ds_t.c.name).where(ds_t.c.id == subject)).first()
        if ds is not None:
            return LineageNode(NodeKind.DATA, ds.digest, ds.name)
        raise NotFound(f"no run or dataset has id {subject!r}", field="subject")
    if subject.startswith("sha256:") or (len(subject) == 64 and "/" not in subject):
        digest = parse_digest(subject)
        label = _data_label(conn, digest)
        if label is None:
            raise NotFound(f"no dataset or artifact has digest {digest}", field="subject")
        return LineageNode(NodeKind.DATA, digest, label)
    if "/" in subject:
        run_id, path = subject.split("/", 1)
        row = conn.execute(
            select(art_t.c.digest).where(art_t.c.run_id == run_id, art_t.c.path == path)
        ).first()
        if row is None:
            raise NotFound(f"run {run_id!r} has no artifact {path!r}", field="subject")
        return LineageNode(NodeKind.DATA, row.digest, path)
    raise InvalidInput(
        f"lineage subject {subject!r} is not a run id, dataset id, digest or <run id>/<artifact path>",
        field="subject",
    )


def _data_label(conn: Connection, digest: str) -> str | None:
    ds = conn.execute(select(ds_t.c.name).where(ds_t.c.digest == digest).limit(1)).first()
    if ds is not None:
        return str(ds.name)
    art = conn.execute(select(art_t.c.path).where(art_t.c.digest == digest).limit(1)).first()
    return None if art is None else str(art.path)


def _run_label(conn: Connection, run_ids: set[str]) -> dict[str, str]:
    rows = conn.execute(select(runs_t.c.id, runs_t.c.name).where(runs_t.c.id.in_(run_ids)))
    return {r.id: r.name for r in rows}


def _producers(conn: Connection, digests: set[str], g: _Graph) -> set[str]:
    """Add runs that output any of ``digests``; return their ids."""
    found: set[str] = set()
    for r in conn.execute(select(art_t.c.run_id, art_t.c.digest).where(art_t.c.digest.in_(digests))):
        g.edge(r.run_id, r.digest, "output")
        found.add(r.run_id)
    q = (
        select(rd_t.c.run_id, ds_t.c.digest)
        .join(ds_t, ds_t.c.id == rd_t.c.dataset_id)
        .where(ds_t.c.digest.in_(digests), rd_t.c.direction == "output")
    )
    for r in conn.execute(q):
        g.edge(r.run_id, r.digest, "output")
        found.add(r.run_id)
    return found


def _consumers(conn: Connection, digests: set[str], g: _Graph) -> set[str]:
    found: set[str] = set()
    q = (
        select(rd_t.c.run_id, rd_t.c.context, ds_t.c.digest)
        .join(ds_t, ds_t.c.id == rd_t.c.dataset_id)
        .where(ds_t.c.digest.in_(digests), rd_t.c.direction == "input")
    )
    for r in conn.execute(q):
        g.edge(r.digest, r.run_id, f"input:{r.context}")
        found.add(r.run_id)
    return found


def _inputs(conn: Connection, run_ids: set[str], g: _Graph) -> set[str]:
    found: set[str] = set()
    q = (
        select(rd_t.c.run_id, rd_t.c.context, ds_t.c.digest, ds_t.c.name)
        .join(ds_t, ds_t.c.id == rd_t.c.dataset_id)
        .where(rd_t.c.run_id.in_(run_ids), rd_t.c.direction == "input")
    )
    for r in conn.execute(q):
        g.node(NodeKind.DATA, r.digest, r.name)
        g.edge(r.digest, r.run_id, f"input:{r.context}")
        found.add(r.digest)
    return found


def _outputs(conn: Connection, run_ids: set[str], g: _Graph) -> set[str]:
    found: set[str] = set()
    for r in conn.execute(
        select(art_t.c.run_id, art_t.c.digest, art_t.c.path).where(art_t.c.run_id.in_(run_ids))
    ):
        g.node(NodeKind.DATA, r.digest, r.path)
        g.edge(r.run_id, r.digest, "output")
        found.add(r.digest)
    q = (
        select(rd_t.c.run_id, ds_t.c.digest, ds_t.c.name)
        .join(ds_t, ds_t.c.id == rd_t.c.dataset_id)
        .where(rd_t.c.run_id.in_(run_ids), rd_t.c.direction == "output")
    )
    for r in conn.execute(q):
        g.node(NodeKind.DATA, r.digest, r.name)
        g.edge(r.run_id, r.digest, "output")
        found.add(r.digest)
    return found


def walk(
    conn: Connection, subject: LineageNode, depth: int, extensions: Sequence[LineageExtension] = ()
) -> LineageGraph:
    """``depth`` counts runs each way; every run comes with its inputs (upstream) or outputs
    (downstream). Depth 1 from a run: its inputs and outputs. Depth 1 from data: the runs that
    produced it (with their inputs) and the runs that used it (with their outputs)."""
    if not 1 <= depth <= MAX_DEPTH:
        raise InvalidInput(f"lineage depth must be between 1 and {MAX_DEPTH}, got {depth}", field="depth")
    g = _Graph()
    g.node(subject.kind, subject.id, subject.label)
    is_run = subject.kind is NodeKind.RUN
    runs: set[str] = {subject.id} if is_run else set()
    hops = depth - 1 if is_run else depth
    for find_runs, expand, start in (
        (_producers, _inputs, _inputs(conn, runs, g) if is_run else {subject.id}),
        (_consumers, _outputs, _outputs(conn, runs, g) if is_run else {subject.id}),
    ):
        frontier = start
        for _ in range(hops):
            new_runs = find_runs(conn, frontier, g) - runs
            runs |= new_runs
            if not new_runs:
                break
            frontier = expand(conn, new_runs, g)
    for run_id, name in _run_label(conn, runs).items():
        g.node(NodeKind.RUN, run_id, name)
    data = {n for e in g.edges.values() for n in (e.source, e.target) if n not in runs} | (
        set() if is_run else {subject.id}
    )
    for extension in extensions:
        nodes, edges = extension.extend(conn, data, runs)
        for node in nodes:
            g.node(node.kind, node.id, node.label)
        for edge in edges:
            g.edge(edge.source, edge.target, edge.relation)
    for edge in list(g.edges.values()):
        for node_id in (edge.source, edge.target):
            if node_id not in g.nodes:
                g.node(NodeKind.DATA, node_id, _data_label(conn, node_id) or node_id)
    return LineageGraph(subject=subject, nodes=tuple(g.nodes.values()), edges=tuple(g.edges.values()))
