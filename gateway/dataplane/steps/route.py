"""Step: parse the body and resolve the route the key asked for (404/403)."""
from __future__ import annotations

from gateway.dataplane.errors import GatewayError
from gateway.dataplane.formats import anthropic as anthropic_format
from gateway.dataplane.formats import echo, load_json_object
from gateway.dataplane.formats.openai import validate_chat_request, validate_embeddings_request


def unknown_model(name: str) -> GatewayError:
    return GatewayError(404, "model_not_found",
                        f"The model '{echo(name)}' does not exist or you do not have access to it.", param="model")


def forbidden_model(name: str) -> GatewayError:
    return GatewayError(403, "model_not_allowed", f"This API key is not allowed to use the model '{echo(name)}'.",
                        param="model")


def resolve(ctx, name: str):
    """The route a key reaches by this public name, or the error to answer."""
    if not isinstance(name, str) or not name:
        raise GatewayError(400, "invalid_value", "'model' is required and must be a string.", param="model")
    route = ctx.snapshot.route_for(ctx.key.tenant_id, name)
    if route is None:
        raise unknown_model(name)
    if ctx.key.route_ids is not None and route.id not in ctx.key.route_ids:
        raise forbidden_model(name)
    return route


def _parse(ctx) -> dict:
    body = load_json_object(ctx.raw_body)
    if ctx.ingress == "anthropic":
        # Validated and translated once; the call step works on the canonical form.
        ctx.body = body
        return anthropic_format.to_canonical(body)
    if ctx.endpoint == "embeddings":
        return validate_embeddings_request(body)
    return validate_chat_request(body)


async def resolve_route(ctx, next_step):
    canonical = _parse(ctx)
    ctx.stream = bool(canonical.get("stream"))
    ctx.route = resolve(ctx, canonical.get("model"))
    cap = ctx.route.max_tokens_cap
    if cap is not None and ctx.endpoint != "embeddings":
        ctx.body_modified = _clamp_max_tokens(canonical, cap)
        if ctx.body is not None:
            _clamp_max_tokens(ctx.body, cap)
    ctx.canonical = canonical
    await next_step(ctx)


def _clamp_max_tokens(body: dict, cap: int) -> bool:
    """A route's cap bounds spend (OWASP LLM10): a larger ask is clamped, an absent one capped."""
    for field in ("max_completion_tokens", "max_tokens"):
        if field in body:
            if body[field] is None or body[field] > cap:
                body[field] = cap
                return True
            return False
    body["max_tokens"] = cap
    return True
