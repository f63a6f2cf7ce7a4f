"""Integer parameters bounded alike in both ingress formats, and a bounded echo of the model (issue 14, finding 7).

orjson reads integers up to 2^64 - 1 (10^30 was refused as invalid JSON, 2^63 went upstream);
an unknown model's 404 echoed a 1 MB name whole.
"""
from __future__ import annotations

import pytest

from gateway.dataplane.errors import GatewayError
from gateway.dataplane.formats import anthropic, openai
from gateway.dataplane.steps.route import forbidden_model, unknown_model


def test_it_echoes_at_most_200_characters_of_an_unknown_or_forbidden_model():
    for err, status in ((unknown_model("m" * 1_000_000), 404), (forbidden_model("m" * 1_000_000), 403)):
        assert err.status == status and "m" * 200 in err.message and "m" * 201 not in err.message
        assert len(err.message) < 300
    assert "'gpt-4o'" in unknown_model("gpt-4o").message  # a name that fits is echoed as it is


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
ANTHROPIC = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(("field", "value"), [
    ("max_tokens", 2**63), ("max_tokens", 2**31), ("max_completion_tokens", 2**64 - 1), ("seed", 2**63),
    ("seed", -(2**63) - 1),
])
def test_it_refuses_openai_integers_beyond_their_bounds_naming_the_param(field, value):
    with pytest.raises(GatewayError) as raised:
        openai.validate_chat_request(CHAT | {field: value})
    assert (raised.value.status, raised.value.param) == (400, field)


def test_it_accepts_openai_integers_at_their_bounds():
    assert openai.validate_chat_request(CHAT | {"max_tokens": 2**31 - 1, "seed": 2**63 - 1})
    assert openai.validate_chat_request(CHAT | {"seed": -(2**63)})


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "e", "input": "x", "dimensions": 2**63}, "dimensions"),
    ({"model": "e", "input": [2**63]}, "input"),
    ({"model": "e", "input": [[1, 2**40]]}, "input"),
    ({"model": "e", "input": [-1]}, "input"),
])
def test_it_refuses_embedding_integers_beyond_their_bounds(body, param):
    with pytest.raises(GatewayError) as raised:
        openai.validate_embeddings_request(body)
    assert (raised.value.status, raised.value.param) == (400, param)


@pytest.mark.parametrize(("patch", "param"), [
    ({"max_tokens": 2**63}, "max_tokens"), ({"max_tokens": 2**31}, "max_tokens"), ({"top_k": 2**63}, "top_k"),
    ({"top_k": -1}, "top_k"), ({"thinking": {"type": "enabled", "budget_tokens": 2**63}}, "thinking.budget_tokens"),
])
def test_it_refuses_anthropic_integers_beyond_their_bounds_naming_the_param(patch, param):
    with pytest.raises(GatewayError) as raised:
        anthropic.to_canonical(ANTHROPIC | patch)
    assert (raised.value.status, raised.value.param) == (400, param)
    assert raised.value.message.startswith(param + ":")


def test_it_accepts_anthropic_integers_at_their_bounds():
    body = ANTHROPIC | {"max_tokens": 2**31 - 1, "top_k": 0, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    assert anthropic.to_canonical(body)["max_tokens"] == 2**31 - 1


def test_it_quotes_at_most_200_characters_of_an_anthropic_block_or_tool_type():
    huge = "t" * 1_000_000
    for body in (ANTHROPIC | {"messages": [{"role": "user", "content": [{"type": huge}]}]},
                 ANTHROPIC | {"tools": [{"name": "f", "type": huge}]}):
        with pytest.raises(GatewayError) as raised:
            anthropic.to_canonical(body)
        assert raised.value.status == 400 and len(raised.value.message) < 400
