"""Lineage across domains, composed here because the domains do not import each other: the
feature store's training datasets (views and source files) and the registry's versions, around
tracking's runs and data."""

from __future__ import annotations

from sqlalchemy import Connection

from shipyard.features import lineage as feature_lineage
from shipyard.registry import lineage as registry_lineage
from shipyard.registry.ports import TrainingOrigin
from shipyard.storage.metadata.database import Database
from shipyard.tracking.model import LineageEdge, LineageNode, NodeKind


def view_node_id(name: str, version: int) -> str:
    return f"feature_view:{name}@{version}"


def source_node_id(path: str, fingerprint: str) -> str:
    return f"source:{path}#{fingerprint}"


class DomainLineage:
    """A :class:`shipyard.tracking.lineage.LineageExtension`: source files -> feature views
    (versions) -> training dataset, and run -> model versions."""

    def extend(
        self, conn: Connection, data: set[str], runs: set[str]
    ) -> tuple[list[LineageNode], list[LineageEdge]]:
        nodes: list[LineageNode] = []
        edges: list[LineageEdge] = []
        for origin in feature_lineage.origins(conn, data):
            for name, version in sorted(origin.feature_views.items()):
                view = view_node_id(name, version)
                nodes.append(LineageNode(NodeKind.FEATURE_VIEW, view, f"{name} v{version}"))
                edges.append(LineageEdge(view, origin.digest, f"features:{origin.name} v{origin.version}"))
            for source in origin.sources:
                node = source_node_id(source.path, source.fingerprint)
                nodes.append(LineageNode(NodeKind.SOURCE, node, source.path))
                read_by = origin.feature_views.get(source.view or "")
                target = origin.digest if read_by is None else view_node_id(source.view or "", read_by)
                edges.append(LineageEdge(node, target, "source"))
        for registered in registry_lineage.versions_of_runs(conn, runs):
            ref = f"{registered.model}/{registered.version}"
            node = f"model_version:{ref}"
            nodes.append(LineageNode(NodeKind.MODEL_VERSION, node, f"{ref} ({registered.stage})"))
            edges.append(LineageEdge(registered.run_id, node, "registered"))
        return nodes, edges


class FeatureStoreOrigins:
    """A :class:`shipyard.registry.ports.TrainingOrigins` over the feature store's tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def training_origin(self, digest: str) -> TrainingOrigin | None:
        with self.db.read() as conn:
            found = feature_lineage.origins(conn, [digest])
        if not found:
            return None
        origin = found[0]
        return TrainingOrigin(
            origin.name,
            origin.version,
            dict(origin.feature_views),
            tuple((s.path, s.fingerprint, s.view) for s in origin.sources),
        )
