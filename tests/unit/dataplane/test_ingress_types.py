"""Ingress values of the wrong JSON type get a 400 naming the parameter, not a 500 or a mislabelled answer.

Found by tests/reliability/test_poisoned_inputs.py (issue 14, B8).
"""
import pytest

from gateway.dataplane.errors import GatewayError
from gateway.dataplane.formats.anthropic import to_canonical
from gateway.dataplane.formats.openai import validate_chat_request

HELLO = {"role": "user", "content": "hello"}


@pytest.mark.parametrize("role", [{"$gt": ""}, ["user"]])
def test_it_refuses_an_unhashable_message_role_with_a_400(role):
    # `role not in ROLES` raised TypeError on a dict or list: the client got a 500 internal_error.
    with pytest.raises(GatewayError) as info:
        validate_chat_request({"model": "m", "messages": [{"role": role, "content": "hi"}]})
    assert (info.value.status, info.value.param) == (400, "messages[0].role")


@pytest.mark.parametrize("stream", ["yes", 1, {"a": 1}, [True]])
def test_it_refuses_a_non_boolean_anthropic_stream_with_a_400(stream):
    # A truthy non-boolean made the upstream stream while the gateway answered it as one JSON body
    # (Content-Type application/json around SSE events, usage unread).
    with pytest.raises(GatewayError) as info:
        to_canonical({"model": "m", "max_tokens": 8, "messages": [HELLO], "stream": stream})
    assert (info.value.status, info.value.param) == (400, "stream")


def test_it_still_takes_a_boolean_anthropic_stream():
    assert to_canonical({"model": "m", "max_tokens": 8, "messages": [HELLO], "stream": True})["stream"] is True
    assert "stream" not in to_canonical({"model": "m", "max_tokens": 8, "messages": [HELLO], "stream": False})
