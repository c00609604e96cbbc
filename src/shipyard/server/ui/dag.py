"""Server-side SVG pictures of a pipeline run: the DAG (columns by depth, one box per step colored
by its state) and a timeline (one bar per step from its start to its end). No JavaScript."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from shipyard.pipelines.model import PipelineRun, PipelineSpec, RunState

COLORS = {
    RunState.SUCCEEDED: "#2e7d32",
    RunState.CACHED: "#1565c0",
    RunState.FAILED: "#c62828",
    RunState.SKIPPED: "#9e9e9e",
    RunState.RUNNING: "#00838f",
    RunState.QUEUED: "#bdbdbd",
}
BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 150, 44, 60, 18, 10


def _depths(spec: PipelineSpec) -> dict[str, int]:
    depth: dict[str, int] = {}
    remaining = list(spec.nodes)
    while remaining:
        for node in list(remaining):
            if all(u in depth for u in node.upstream):
                depth[node.id] = 1 + max((depth[u] for u in node.upstream), default=-1)
                remaining.remove(node)
    return depth


def dag_svg(spec: PipelineSpec, run: PipelineRun) -> Markup:
    states = {s.node: s.state for s in run.steps}
    depth = _depths(spec)
    columns: dict[int, list[str]] = {}
    for node in spec.nodes:
        columns.setdefault(depth[node.id], []).append(node.id)
    pos: dict[str, tuple[int, int]] = {}
    for col, ids in columns.items():
        for row, node_id in enumerate(ids):
            pos[node_id] = (PAD + col * (BOX_W + GAP_X), PAD + row * (BOX_H + GAP_Y))
    width = PAD * 2 + len(columns) * (BOX_W + GAP_X) - GAP_X
    height = PAD * 2 + max(len(c) for c in columns.values()) * (BOX_H + GAP_Y) - GAP_Y
    parts = [
        f'<svg class="dag" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="pipeline graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#78909c"/></marker></defs>',
    ]
    for node in spec.nodes:
        x2, y2 = pos[node.id]
        for up in node.upstream:
            x1, y1 = pos[up]
            sx, sy, ex, ey = x1 + BOX_W, y1 + BOX_H // 2, x2, y2 + BOX_H // 2
            mid = (sx + ex) // 2
            parts.append(
                f'<path class="edge" data-from="{escape(up)}" data-to="{escape(node.id)}" '
                f'd="M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}" fill="none" stroke="#78909c" '
                'marker-end="url(#arrow)"/>'
            )
    for node in spec.nodes:
        x, y = pos[node.id]
        state = states.get(node.id, RunState.QUEUED)
        color = COLORS[state]
        parts.append(
            f'<g class="node" data-node="{escape(node.id)}" data-state="{state.value}">'
            f"<title>{escape(node.id)}: {state.value}</title>"
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="#fff" stroke="{color}" '
            'stroke-width="2"/>'
            f'<text x="{x + 10}" y="{y + 18}" font-size="13" font-weight="600">{escape(node.id[:20])}</text>'
            f'<text x="{x + 10}" y="{y + 35}" font-size="11" fill="{color}">{state.value.lower()}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def timeline_svg(run: PipelineRun) -> Markup:
    timed = [s for s in run.steps if s.started_at is not None and s.finished_at is not None]
    if not timed:
        return Markup("")
    start = min(s.started_at for s in timed if s.started_at)
    end = max(s.finished_at for s in timed if s.finished_at)
    span = max((end - start).total_seconds(), 1e-3)
    label_w, bar_w, row_h = 140, 560, 22
    height = PAD * 2 + row_h * len(timed)
    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + PAD * 2}" '
        f'height="{height}" role="img" aria-label="step timeline">'
    ]
    for i, s in enumerate(timed):
        assert s.started_at is not None and s.finished_at is not None
        y = PAD + i * row_h
        x = label_w + (s.started_at - start).total_seconds() / span * bar_w
        w = max(2.0, (s.finished_at - s.started_at).total_seconds() / span * bar_w)
        seconds = (s.finished_at - s.started_at).total_seconds()
        parts.append(
            f'<g class="bar" data-node="{escape(s.node)}"><title>{escape(s.node)}: {seconds:.3f} s</title>'
            f'<text x="{PAD}" y="{y + 15}" font-size="12">{escape(s.node[:18])}</text>'
            f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" rx="3" '
            f'fill="{COLORS[s.state]}"/></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
