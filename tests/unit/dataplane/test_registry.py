import pytest

from gateway.dataplane.adapters import ADAPTERS, get_adapter
from gateway.dataplane.adapters.base import Adapter
from gateway.dataplane.errors import GatewayError

KINDS = {"openai", "azure_openai", "mistral", "groq", "deepseek", "together", "openrouter", "vllm", "ollama",
         "openai_compatible", "anthropic", "gemini", "mock"}


def test_it_registers_every_provider_kind_read_only():
    assert set(ADAPTERS) == KINDS
    assert all(isinstance(a, Adapter) and a.kind == kind for kind, a in ADAPTERS.items())
    with pytest.raises(TypeError):
        ADAPTERS["evil"] = ADAPTERS["openai"]  # type: ignore[index]


def test_it_names_each_adapters_wire_format():
    wires = {kind: a.wire for kind, a in ADAPTERS.items()}
    assert wires.pop("anthropic") == "anthropic" and wires.pop("gemini") == "gemini"
    assert set(wires.values()) == {"openai"}
    assert [k for k, a in ADAPTERS.items() if a.local] == ["mock"]


def test_it_raises_a_gateway_error_for_an_unknown_kind():
    assert get_adapter("groq") is ADAPTERS["groq"]
    with pytest.raises(GatewayError) as info:
        get_adapter("bedrock")
    assert info.value.status == 500
