"""The official Intercom OpenAPI description (v2.16), and checks of sandbox answers against it.

`SpecChecker` wraps openapi-core. Each check can fail:

* `validate(response)`: the operation declares the status, and openapi-core accepts the body and
  the declared headers.
* `validate(response, SOME_DEFECT, ...)`: the same against a copy of the spec in which the named
  documented defects (`Defect`, below) are corrected. For each named defect, the spec corrected for
  all the *other* defects must still reject the answer: so every workaround is needed, and a
  workaround that a future spec makes unnecessary fails loudly instead of hiding sandbox bugs.
* `validate_undeclared_error(response, why)`: the operation declares no such status (429 on every
  operation, 404 on PUT /contacts/{id}, ...), so the body is checked against
  `components/schemas/error` directly, and the status must really be undeclared.

`SPEC_PATH` (env `INTERCOM_OPENAPI_SPEC`) defaults to the shared copy of the spec; references
`intercom_api.md §n` are to /work/shared/reference/intercom_api.md, which digests it.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import requests
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from openapi_schema_validator import OAS30ReadValidator

SPEC_PATH = Path(
    os.environ.get(
        "INTERCOM_OPENAPI_SPEC",
        Path(__file__).resolve().parents[3]
        / "shared"
        / "intercom-openapi"
        / "api.intercom.io.yaml",
    )
)

# The sandbox listens on a loopback port chosen per test; the spec only names Intercom's hosts.
# A templated server added to a copy of `servers` lets openapi-core match sandbox URLs.
SANDBOX_SERVER = {
    "url": "http://127.0.0.1:{port}",
    "description": "The local Intercom sandbox (any port)",
    "variables": {"port": {"default": "8000"}},
}

SCALAR_VALUE = {
    "nullable": True,
    "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "integer"}, {"type": "boolean"}],
}


@dataclass(frozen=True)
class Defect:
    """A spec defect that intercom_api.md documents, and the correction applied to a copy."""

    name: str
    reference: str  # where intercom_api.md documents it, and what the truth is
    target: tuple[str, ...]  # the spec node the correction rewrites (copied first)
    correct: Callable[[dict[str, Any]], None]

    def __str__(self) -> str:
        return f"{self.name} ({self.reference})"


def _company_custom_attributes(company: dict[str, Any]) -> None:
    company["properties"]["custom_attributes"]["additionalProperties"] = SCALAR_VALUE


def _conversation_custom_attributes(schema: dict[str, Any]) -> None:
    schema["additionalProperties"]["anyOf"] += [{"type": "boolean"}, {"type": "number"}]


def _events_response(response: dict[str, Any]) -> None:
    response["content"]["application/json"]["schema"] = {
        "oneOf": [
            {"$ref": "#/components/schemas/data_event_summary"},
            {"$ref": "#/components/schemas/data_event_list"},
        ]
    }


COMPANY_CUSTOM_ATTRIBUTES = Defect(
    "company.custom_attributes typed additionalProperties: string",
    "intercom_api.md §3 Companies and §6.6: the spec's own example has booleans and floats, "
    "custom attributes are typed by their data attribute (integer, float, boolean, date)",
    ("components", "schemas", "company"),
    _company_custom_attributes,
)
CONVERSATION_CUSTOM_ATTRIBUTES = Defect(
    "conversation custom_attributes allow only string, integer, datetime or object lists",
    "intercom_api.md §6.6: conversation custom attributes are free-form, values may be bool or "
    "float; the schema's own example has paid_subscriber: true and monthly_spend: 155.5",
    ("components", "schemas", "custom_attributes"),
    _conversation_custom_attributes,
)
EVENTS_LIST_SCHEMA = Defect(
    "GET /events 200 declares only data_event_summary",
    "intercom_api.md §4.7: a plain listing answers event.list (data_event_list); only "
    "summary=true answers event.summary",
    ("paths", "/events", "get", "responses", "200"),
    _events_response,
)


def corrected(spec: dict[str, Any], defects: frozenset[Defect]) -> dict[str, Any]:
    """A copy of `spec` with `defects` corrected; untouched nodes are shared, not copied."""
    result = dict(spec)
    for defect in sorted(defects, key=lambda d: d.name):
        node = result
        for key in defect.target[:-1]:
            node[key] = dict(node[key])
            node = node[key]
        node[defect.target[-1]] = leaf = copy.deepcopy(node[defect.target[-1]])
        defect.correct(leaf)
    return result


@cache
def load_spec() -> dict[str, Any]:
    """The spec as a dict, parsed once per process (libyaml: about half a second)."""
    with SPEC_PATH.open("rb") as handle:
        return yaml.load(handle, Loader=yaml.CSafeLoader)


def _describe(error: Exception) -> Iterator[str]:
    """Readable lines for an openapi-core error, down to each JSON-schema failure."""
    cause = error.__cause__ if isinstance(error.__cause__, InvalidSchemaValue) else error
    schema_errors = list(getattr(cause, "schema_errors", ()))
    if not schema_errors:
        yield f"{type(error).__name__}: {str(error)[:300]}"
    for schema_error in schema_errors:
        yield from _describe_schema_error(schema_error)


def _describe_schema_error(error: Any, indent: str = "  ") -> Iterator[str]:
    where = "/".join(str(p) for p in error.absolute_path) or "<root>"
    yield f"{indent}at {where}: {error.message[:300]}"
    for sub in error.context or ():  # anyOf/oneOf: why each branch failed
        yield from _describe_schema_error(sub, indent + "  ")


class SpecChecker:
    """openapi-core over a copy of the spec whose `servers` also names the sandbox."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = dict(spec)
        self.spec["servers"] = [*spec["servers"], SANDBOX_SERVER]
        self._apps: dict[frozenset[Defect], OpenAPI] = {}
        self.finder = APICallPathFinder(self.app().spec)

    def app(self, defects: frozenset[Defect] = frozenset()) -> OpenAPI:
        """openapi-core for the spec with `defects` corrected (built once per set)."""
        if defects not in self._apps:
            # The file itself fails openapi-spec-validator on an operation this project never
            # calls (GET /export/reporting_data/{job_identifier} does not declare its path
            # parameter), so the spec is not re-validated here; responses are.
            self._apps[defects] = OpenAPI.from_dict(
                corrected(self.spec, defects), config=Config(spec_validator_cls=None)
            )
        return self._apps[defects]

    # --- looking things up ---------------------------------------------------------------------

    def operation(self, response: requests.Response) -> tuple[str, dict[str, Any]]:
        """("METHOD /path/{template}", operation object) that the spec matches for a response."""
        request = response.request
        assert request.url is not None and request.method is not None
        method = request.method.lower()
        found = self.finder.find(method, request.url.split("?", 1)[0])
        template = found.path_result.pattern  # e.g. /contacts/{contact_id}
        return f"{method.upper()} {template}", self.spec["paths"][template][method]

    def declared_statuses(self, response: requests.Response) -> set[str]:
        return set(self.operation(response)[1]["responses"])

    def schema_errors(
        self, instance: Any, component: str, defects: frozenset[Defect] = frozenset()
    ) -> list[str]:
        """JSON-schema failures of `instance` against `components/schemas/<component>`."""
        components = corrected(self.spec, defects)["components"]
        root = {"$ref": f"#/components/schemas/{component}", "components": components}
        validator = OAS30ReadValidator(root, format_checker=OAS30ReadValidator.FORMAT_CHECKER)
        return [
            line
            for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
            for line in _describe_schema_error(error)
        ]

    def response_errors(
        self, response: requests.Response, defects: frozenset[Defect] = frozenset()
    ) -> list[str]:
        """What openapi-core finds wrong with a response to the operation it was sent to."""
        errors = self.app(defects).iter_response_errors(
            RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
        )
        return [line for error in errors for line in _describe(error)]

    # --- the checks ----------------------------------------------------------------------------

    def validate(self, response: requests.Response, *defects: Defect) -> None:
        """The spec (corrected for `defects`, each of which must be needed) accepts the answer."""
        operation_name, operation = self.operation(response)
        label = f"{operation_name} -> {response.status_code}"
        declared = set(operation["responses"])
        assert str(response.status_code) in declared, (
            f"{label}: the spec declares only {sorted(declared)} for this operation; "
            "use validate_undeclared_error() and say why"
        )
        named = frozenset(defects)
        problems = self.response_errors(response, named)
        workaround = f" (corrected for: {'; '.join(map(str, defects))})" if defects else ""
        assert not problems, (
            f"{label}: the spec{workaround} rejects the sandbox's answer:\n"
            + "\n".join(problems[:40])
            + f"\nbody: {response.text[:1000]}"
        )
        for defect in defects:
            assert self.response_errors(response, named - {defect}), (
                f"{label}: the spec accepts this answer without correcting {defect}; "
                "drop that workaround"
            )

    def validate_undeclared_error(self, response: requests.Response, why: str) -> None:
        """An error status the operation does not declare: check the body against `error`."""
        operation_name, operation = self.operation(response)
        label = f"{operation_name} -> {response.status_code}"
        assert response.status_code >= 400, f"{label}: not an error status"
        assert str(response.status_code) not in operation["responses"], (
            f"{label}: the spec now declares this status; use validate() instead ({why})"
        )
        assert response.headers.get("Content-Type", "").startswith("application/json"), label
        body = response.json()
        problems = self.schema_errors(body, "error")
        assert not problems, f"{label} ({why}): the body is not a spec `error`:\n" + "\n".join(
            problems
        )
        assert body["type"] == "error.list", f"{label}: {body}"
        assert body["errors"], f"{label}: an error.list needs at least one error"
