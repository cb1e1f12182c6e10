"""schemathesis against our own OpenAPI document (issue 8), in process (WSGI).

The document is read from ``GET /api/v1/openapi.json`` of the test app, and
every operation in it gets generated requests — valid ones and, as
schemathesis does by default, invalid ones — sent with a bearer token of a
person who holds every role, in the world of ``tests/api_world.py`` (so some
ids resolve: path ids are sometimes swapped for the world's). Each answer
must pass:

* ``not_a_server_error`` — never a 5xx;
* ``status_code_conformance`` — the status is one the document lists;
* ``content_type_conformance`` — the Content-Type is one it lists;
* ``response_schema_conformance`` — the body matches the listed schema.

Bounded (``max_examples`` per operation; WINBACK_SCHEMATHESIS_EXAMPLES for a
longer run) so the whole document takes about a minute.
"""
from __future__ import annotations

import os
import traceback

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from .api_world import api_world  # noqa: F401  (a fixture)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("WINBACK_SCHEMATHESIS_EXAMPLES", 25))

# Path parameters that name something in the world (the rest are whatever schemathesis makes).
WORLD_IDS = {"campaign_id": ("draft", "active"), "item_id": ("item", "other_item"), "run_id": ("run",),
             "competition_id": ("competition",), "script_id": ("script_id",), "client_ref": ("client_ref",),
             "job_id": ("job",)}


def test_every_operation_of_the_openapi_document(app, api_world, client):  # noqa: F811
    """One world for the whole document: each operation is a Hypothesis test of
    its own, positive and negative, run here (schemathesis' lazy pytest loader
    does not run under pytest 9.2, and a world per operation would cost more
    than the requests). Every failing operation is reported, not just the first."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]  # raises on an invalid document
    assert len(operations) > 40, [op.label for op in operations]
    failures = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
            def check(case, data):
                for name, keys in WORLD_IDS.items():
                    if name in (case.path_parameters or {}) and data.draw(st.booleans(), label=f"world {name}"):
                        case.path_parameters[name] = api_world[data.draw(st.sampled_from(keys), label=name)]
                headers = {} if operation.path == "/sms/inbound" else dict(api_world["tokens"]["super"])
                # ``client`` rolls the test's session back before each request, as a new request finds it.
                case.call_and_validate(session=client, app=app, headers=headers, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                if mode is GenerationMode.POSITIVE:
                    raise
                # nothing to make invalid (no parameters, no body): nothing to send
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001  (collected, reported below)
                where = "" if isinstance(exc, BaseExceptionGroup) else "".join(traceback.format_tb(exc.__traceback__)[-6:])
                failures.append(f"{operation.label} ({mode.value}): {type(exc).__name__}: {exc}\n{where}")
    assert not failures, f"{len(failures)} failing:\n\n" + "\n\n".join(failures)
