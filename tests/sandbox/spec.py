"""The official Intercom OpenAPI description (v2.16), and checks of sandbox answers against it.

`SpecChecker` wraps openapi-core. Three checks, each one able to fail:

* `validate(response)`: the operation declares the status, and openapi-core accepts the body
  and the declared headers.
* `validate_undeclared_error(response, why)`: the operation declares no such status (for example
  429, which Intercom sends on every operation but the spec never lists), so the body is checked
  against `components/schemas/error` directly.
* `validate_defect(response, component, defect)`: a documented spec defect. openapi-core must
  reject the body against the operation's declared schema (so the defect is real and still there),
  and the component schema that describes the real answer must accept it.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
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
        Path(__file__).resolve().parents[3] / "shared" / "intercom-openapi" / "api.intercom.io.yaml",
    )
)

# The sandbox listens on a loopback port chosen per test; the spec only names Intercom's hosts.
# A templated server added to a copy of `servers` lets openapi-core match sandbox URLs.
SANDBOX_SERVER = {
    "url": "http://127.0.0.1:{port}",
    "description": "The local Intercom sandbox (any port)",
    "variables": {"port": {"default": "8000"}},
}


@cache
def load_spec() -> dict[str, Any]:
    """The spec as a dict, parsed once per process (libyaml: about half a second)."""
    with SPEC_PATH.open("rb") as handle:
        return yaml.load(handle, Loader=yaml.CSafeLoader)


def _describe(error: Exception) -> Iterator[str]:
    """Readable lines for an openapi-core error, down to each JSON-schema failure."""
    yield f"{type(error).__name__}: {error}"[:300] if not isinstance(
        error, InvalidSchemaValue
    ) else f"{type(error).__name__} (schema type {error.type})"
    nested = getattr(error, "__cause__", None)
    if isinstance(nested, InvalidSchemaValue):
        error = nested
    for schema_error in getattr(error, "schema_errors", ()):
        yield from _describe_schema_error(schema_error)


def _describe_schema_error(error: Any) -> Iterator[str]:
    where = "/".join(str(p) for p in error.absolute_path) or "<root>"
    yield f"  at {where}: {error.message[:300]}"
    for sub in error.context or ():  # oneOf/anyOf: why each branch failed
        yield from (f"  {line}" for line in _describe_schema_error(sub))


class SpecChecker:
    """openapi-core over a copy of the spec whose `servers` also names the sandbox."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = copy.copy(spec)
        self.spec["servers"] = [*spec["servers"], SANDBOX_SERVER]
        # The file itself fails openapi-spec-validator on an operation this project never calls
        # (GET /export/reporting_data/{job_identifier} declares no `job_identifier` parameter),
        # so the spec is not re-validated here; responses are.
        self.app = OpenAPI.from_dict(self.spec, config=Config(spec_validator_cls=None))
        self.finder = APICallPathFinder(self.app.spec)

    # --- looking things up ---------------------------------------------------------------------

    def operation(self, response: requests.Response) -> tuple[str, str, dict[str, Any]]:
        """(method, path template, operation object) that the spec matches for a response."""
        request = response.request
        assert request.url is not None and request.method is not None
        found = self.finder.find(request.method.lower(), request.url.split("?", 1)[0])
        template = found.path_result.pattern  # e.g. /contacts/{contact_id}
        method = request.method.lower()
        return method, template, self.spec["paths"][template][method]

    def declared_statuses(self, response: requests.Response) -> set[str]:
        return set(self.operation(response)[2]["responses"])

    def component(self, name: str) -> dict[str, Any]:
        return self.spec["components"]["schemas"][name]

    def schema_errors(self, instance: Any, component: str) -> list[str]:
        """JSON-schema failures of `instance` against `components/schemas/<component>`."""
        root = {"$ref": f"#/components/schemas/{component}", "components": self.spec["components"]}
        validator = OAS30ReadValidator(root, format_checker=OAS30ReadValidator.FORMAT_CHECKER)
        return [
            line
            for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
            for line in _describe_schema_error(error)
        ]

    def response_errors(self, response: requests.Response) -> list[str]:
        """What openapi-core finds wrong with a response to the operation it was sent to."""
        errors = self.app.iter_response_errors(
            RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
        )
        return [line for error in errors for line in _describe(error)]

    # --- the three checks ----------------------------------------------------------------------

    def validate(self, response: requests.Response) -> None:
        method, template, operation = self.operation(response)
        label = f"{method.upper()} {template} -> {response.status_code}"
        declared = set(operation["responses"])
        assert str(response.status_code) in declared, (
            f"{label}: the spec declares only {sorted(declared)} for this operation; "
            "use validate_undeclared_error() and say why"
        )
        problems = self.response_errors(response)
        assert not problems, f"{label}: the spec rejects the sandbox's answer:\n" + "\n".join(
            problems
        ) + f"\nbody: {response.text[:1500]}"

    def validate_undeclared_error(self, response: requests.Response, why: str) -> None:
        """An error status the operation does not declare: check the body against `error`."""
        method, template, operation = self.operation(response)
        label = f"{method.upper()} {template} -> {response.status_code}"
        assert response.status_code >= 400, f"{label}: not an error status"
        assert str(response.status_code) not in operation["responses"], (
            f"{label}: the spec now declares this status; use validate() instead ({why})"
        )
        body = response.json()
        problems = self.schema_errors(body, "error")
        assert not problems, f"{label} ({why}): body is not a spec `error`:\n" + "\n".join(
            problems
        )
        assert body["type"] == "error.list", f"{label}: {body}"
        assert body["errors"], f"{label}: an error.list needs at least one error"

    def validate_defect(self, response: requests.Response, component: str, defect: str) -> None:
        """A documented spec defect: the declared schema rejects, `component` accepts."""
        method, template, operation = self.operation(response)
        label = f"{method.upper()} {template} -> {response.status_code}"
        assert str(response.status_code) in operation["responses"], label
        assert self.response_errors(response), (
            f"{label}: the spec now accepts this answer, so the documented defect "
            f"({defect}) is gone: validate() it instead"
        )
        problems = self.schema_errors(response.json(), component)
        assert not problems, (
            f"{label}: known spec defect ({defect}); but the answer does not match "
            f"`{component}` either:\n" + "\n".join(problems)
        )
