"""Routes describe themselves (`@documented`); the OpenAPI document is read from them."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Blueprint, Flask
from pydantic import BaseModel

from widget_api.app import register_routes
from widget_api.openapi import build_openapi, route_table
from widget_api.routes.documented import BODY_ERRORS, doc_of, documented


class Greeting(BaseModel):
    text: str


class Other(BaseModel):
    value: int


class GreetingRequest(BaseModel):
    name: str


def _app_with_extra_route() -> Flask:
    bp = Blueprint("extra", __name__)

    @bp.post("/api/greet/<company_id>")
    @documented("Say hello.", ok=Greeting, status=201, body=GreetingRequest,
                errors=(*BODY_ERRORS, "unknown_company"), security="toolToken")  # fmt: skip
    def greet(company_id: str) -> Greeting:
        return Greeting(text=f"hello {company_id}")

    @bp.get("/api/wrong")
    @documented("Answers a model it did not declare.", ok=Greeting)
    def wrong() -> Other:
        return Other(value=1)

    app = Flask(__name__)
    register_routes(app)
    app.register_blueprint(bp)
    return app


@pytest.fixture(scope="module")
def extra_app() -> Flask:
    return _app_with_extra_route()


def test_a_new_documented_route_is_in_the_document_with_nothing_else_edited(
    extra_app: Flask,
) -> None:
    op = build_openapi(extra_app)["paths"]["/api/greet/{company_id}"]["post"]
    schemas = build_openapi(extra_app)["components"]["schemas"]
    assert op["summary"] == "Say hello."
    assert op["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Greeting"
    }
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/GreetingRequest"
    )
    assert op["responses"]["404"]["x-error-codes"] == ["unknown_company"]
    assert op["security"] == [{"toolToken": []}]
    assert op["tags"] == ["extra"]  # the blueprint, when the route names no tag
    assert {"Greeting", "GreetingRequest"} <= set(schemas)


def test_a_route_answers_its_model_as_json_with_the_documented_status(extra_app: Flask) -> None:
    response = extra_app.test_client().post("/api/greet/acme", json={"name": "x"})
    assert response.status_code == 201
    assert response.get_json() == {"text": "hello acme"}


def test_a_model_the_route_did_not_declare_is_refused(extra_app: Flask) -> None:
    view = extra_app.view_functions["extra.wrong"]
    with extra_app.test_request_context("/api/wrong"), pytest.raises(TypeError):
        view()


def test_every_flask_view_carries_its_doc() -> None:
    app = route_table()
    undocumented = [rule.rule for rule in app.url_map.iter_rules()
                    if rule.endpoint != "static" and doc_of(app.view_functions[rule.endpoint])
                    is None]  # fmt: skip
    assert undocumented == []


@pytest.mark.parametrize(
    ("path", "method", "model"),
    [
        ("/healthz", "get", "HealthAnswer"),
        ("/api/realtime/session", "post", "SessionAnswer"),
        ("/api/admin/{company_id}/leads", "get", "LeadPage"),
        ("/api/admin/{company_id}/leads/{lead_id}", "get", "LeadView"),
        ("/api/admin/{company_id}/people/forget", "post", "ForgetAnswer"),
        ("/api/realtime/calls/{company_id}/end", "post", "CallEnded"),
    ],
)
def test_answer_models_are_the_ones_the_routes_return(path: str, method: str, model: str) -> None:
    responses: dict[str, Any] = build_openapi()["paths"][path][method]["responses"]
    ok = next(r for status, r in responses.items() if status.startswith("2"))
    assert ok["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model}"}
