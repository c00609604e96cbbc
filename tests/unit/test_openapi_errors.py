"""Every operation of the OpenAPI document lists its error responses, routes added later included."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from shipyard.app import build_app
from shipyard.config import load_settings
from shipyard.server import create_app
from shipyard.server.deps import authorize


class WidgetIn(BaseModel):
    name: str


def test_a_route_added_later_gets_the_error_responses(tmp_path: Path) -> None:
    app = build_app(load_settings(home=tmp_path / "home"))
    try:
        api = create_app(app)
        router = APIRouter(prefix="/api/v1/widgets")

        @router.post("", dependencies=[Depends(authorize("models.write"))])
        def create_widget(body: WidgetIn) -> WidgetIn:
            return body

        @router.get("/{name}")
        def open_widget(name: str) -> WidgetIn:
            return WidgetIn(name=name)

        api.include_router(router)
        schema = api.openapi()
    finally:
        app.close()
    created = schema["paths"]["/api/v1/widgets"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "413", "422", "503"} <= set(created)
    assert created["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"
    }
    opened = schema["paths"]["/api/v1/widgets/{name}"]["get"]["responses"]
    assert {"404", "422", "503"} <= set(opened) and "401" not in opened and "409" not in opened
    envelope = schema["components"]["schemas"]["ErrorOut"]
    assert envelope["required"] == ["error"]
    # the existing routes too, with their own declared responses kept
    health = schema["paths"]["/health"]["get"]["responses"]
    assert health["503"]["description"] == "The metadata database is unavailable."
