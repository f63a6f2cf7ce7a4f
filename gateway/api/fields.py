"""Related fields that only resolve objects the caller may see, and typed JSON settings."""
from django.db.models import Q
from pydantic import ValidationError as PydanticError
from rest_framework import serializers

from gateway.api.permissions import access_for


class ScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key resolved within the caller's tenants (others: "does not exist").

    `tenant_field` is the lookup to the owning tenant; `allow_global` also admits
    rows whose tenant is null (shared providers and routes).
    """

    def __init__(self, *args, tenant_field="tenant_id", allow_global=False, **kwargs):
        self.tenant_field = tenant_field
        self.allow_global = allow_global
        super().__init__(*args, **kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        if request is None:
            return queryset.none()
        scope = access_for(request).tenant_filter(self.tenant_field)
        if scope is None:
            return queryset
        condition = Q(**scope)
        if self.allow_global:
            condition |= Q(**{self.tenant_field.removesuffix("_id") + "__isnull": True})
        return queryset.filter(condition)


def is_id(value):
    """True for an object id in a query string: ASCII digits only ('²'.isdigit() is True, but
    int('²') raises, which was a 500 wherever a filter took it)."""
    return value.isascii() and value.isdigit()


def same_tenant(errors, tenant, **related):
    """Record a field error for each related object owned by another tenant."""
    for name, obj in related.items():
        items = obj if isinstance(obj, (list, tuple)) else [obj]
        for item in items:
            if item is not None and getattr(item, "tenant_id", tenant.pk) not in (tenant.pk, None):
                errors[name] = "must belong to the same tenant"
    return errors


class SpecField(serializers.JSONField):
    """A JSON settings column validated by the same pydantic spec as config files.

    Keeps the API and apply_config in agreement: whatever one accepts, the
    other exports and re-applies.
    """

    def __init__(self, spec, **kwargs):
        self.spec = spec
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        try:
            parsed = self.spec.model_validate(data)
        except PydanticError as exc:
            problems = ["{}: {}".format(".".join(map(str, e["loc"])) or "value", e["msg"]) for e in exc.errors()]
            raise serializers.ValidationError(problems) from None
        return parsed.model_dump(mode="json", exclude_none=True)
