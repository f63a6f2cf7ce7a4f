"""Step: GET /v1/models and /v1/models/{id}, only the routes the key may use."""
from __future__ import annotations

from gateway.dataplane import respond
from gateway.dataplane.canonical import dumps
from gateway.dataplane.steps.route import forbidden_model, unknown_model


def _model(route) -> dict:
    return {"id": route.name, "object": "model", "created": route.created, "owned_by": "switchyard"}


async def list_models(ctx, next_step):
    visible = ctx.snapshot.routes_for_key(ctx.key)
    if ctx.endpoint == "models":
        data = [_model(r) for _name, r in sorted(visible.items())]
        await respond.send_json(ctx, 200, dumps({"object": "list", "data": data}))
        return
    route = visible.get(ctx.path_param)
    if route is None:
        exists = ctx.snapshot.route_for(ctx.key.tenant_id, ctx.path_param) is not None
        raise forbidden_model(ctx.path_param) if exists else unknown_model(ctx.path_param)
    await respond.send_json(ctx, 200, dumps(_model(route)))
