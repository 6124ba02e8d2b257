"""Review: the sandbox's control API answers 400 to a body that is not JSON text, not a 500 with a traceback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from envpromote.sandbox.testing import Sandbox


@pytest.mark.parametrize("endpoint", ["faults", "clock"])
@pytest.mark.parametrize(
    "body", [b'{"seed": "caf\xe9"}', b"[" * 100_000 + b"]" * 100_000], ids=["not-utf8", "nested-too-deep"]
)
def test_a_body_that_is_not_json_text_is_a_bad_request(sandbox: Sandbox, endpoint: str, body: bytes) -> None:
    request = urllib.request.Request(  # noqa: S310 - local sandbox
        f"{sandbox.url}/envpromote-sandbox/{endpoint}", data=body, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310 - local sandbox
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["error"] == "the body is not a JSON document"
