"""Event log routes: list events after a position with type and payload filters.

Reading needs ``events.read`` granted globally (viewer and up): events name objects of every
scope, so a user with only model- or experiment-scoped grants is denied.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from shipyard.events import filters
from shipyard.server import event_schemas as s
from shipyard.server.deps import Shipyard, authorize

router = APIRouter(prefix="/api/v1", tags=["events"])

READ = [Depends(authorize("events.read"))]
MAX_LIMIT = 1000
MAX_SEQ = 2**63 - 1


@router.get("/events", dependencies=READ, responses=s.ERROR_RESPONSES)
def list_events(
    app: Shipyard,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="Events with seq greater than this.")] = 0,
    type: Annotated[
        list[str] | None,
        Query(max_length=filters.MAX_TYPES, description="Exact type or prefix (model.*); repeatable."),
    ] = None,
    where: Annotated[
        list[str] | None,
        Query(max_length=filters.MAX_WHERE, description="Payload condition key=value; repeatable."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    newest: Annotated[
        bool, Query(description="The last `limit` matching events instead of the first.")
    ] = False,
) -> s.EventsOut:
    conditions = filters.parse_where(where or [])
    page = app.events.page(after=after, types=type or [], where=conditions, limit=limit, newest=newest)
    return s.EventsOut(events=[s.EventOut.of(e) for e in page.events], next_after=page.next_cursor)
