"""Console forms. Validation mirrors gateway/api/serializers.py: JSON settings go through the same
pydantic specs as the REST API and config files, related objects are limited to the current tenant
(plus shared ones where the API allows them)."""
from django import forms
from django.db.models import Q
from pydantic import ValidationError as PydanticError

from billing.models import Budget, PriceOverride
from gateway.api.fields import is_id
from gateway.models import ApiKey, AuditEvent, Provider, Role, Route, Team, Tenant, User
from gateway.services.config_schema import Cache, Limits, Timeouts, _time_zone

# The REST API's limit for a rotation grace period (KeyRotateSerializer): 30 days.
MAX_GRACE_SECONDS = 30 * 86400


def own_or_shared(queryset, tenant):
    return queryset.filter(Q(tenant=tenant) | Q(tenant__isnull=True))


class SpecFields:
    """Flat form fields for JSON settings: (column, spec, {key: form field}).

    Keys the form does not show (cache.semantic, limits.fail_open) are kept from the stored value.
    """

    specs = ()

    def _add_spec_fields(self):
        for column, _spec, fields in self.specs:
            stored = getattr(self.instance, column, None) or {}
            for key, field in fields.items():
                self.fields[f"{column}_{key}"] = field
                self.initial.setdefault(f"{column}_{key}", stored.get(key))

    def _clean_specs(self, data):
        for column, spec, fields in self.specs:
            value = dict(getattr(self.instance, column, None) or {})
            for key in fields:
                value[key] = data.get(f"{column}_{key}")
            value = {k: v for k, v in value.items() if v not in (None, "")}
            try:
                value = spec.model_validate(value).model_dump(mode="json", exclude_none=True)
            except PydanticError as exc:
                for err in exc.errors():
                    key = f"{column}_{err['loc'][0]}" if err["loc"] else None
                    self.add_error(key if key in self.fields else None, err["msg"])
                continue
            setattr(self.instance, column, value)


def count(label):
    return forms.IntegerField(label=label, required=False, min_value=0, max_value=2**31 - 1)


def seconds(label):
    return forms.FloatField(label=label, required=False, min_value=0.001)


LIMIT_FIELDS = {"rpm": count("Requests per minute"), "tpm": count("Tokens per minute"),
                "max_parallel": count("Parallel requests")}


class ProviderForm(forms.ModelForm):
    # Write-only: never rendered back; empty keeps the stored key.
    api_key = forms.CharField(label="API key", required=False, strip=True,
                              widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                              help_text="Leave empty to keep the stored key.")
    clear_api_key = forms.BooleanField(label="Remove the stored key", required=False)

    class Meta:
        model = Provider
        fields = ["name", "kind", "base_url", "connect_timeout", "first_byte_timeout", "idle_timeout", "enabled"]

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.tenant = tenant

    def save(self, commit=True):
        secret = self.cleaned_data.get("api_key")
        if secret:
            self.instance.api_key = secret
        elif self.cleaned_data.get("clear_api_key"):
            self.instance.api_key = ""
        return super().save(commit)

    def validate_unique(self):
        self.validate_unique_name(Provider)

    def validate_unique_name(self, model):
        name = self.cleaned_data.get("name")
        clash = model.objects.filter(tenant=self.instance.tenant, name=name).exclude(pk=self.instance.pk)
        if name and clash.exists():
            self.add_error("name", "this name is already used in this tenant")


class RouteForm(SpecFields, forms.ModelForm):
    fallbacks = forms.ModelMultipleChoiceField(queryset=Route.objects.none(), required=False,
                                               help_text="Tried in this order when the route fails.")
    specs = (
        ("timeouts", Timeouts, {"connect": seconds("Connect timeout (s)"), "first_byte": seconds("First byte (s)"),
                                "total": seconds("Total (s)"), "idle": seconds("Idle (s)")}),
        ("cache", Cache, {"enabled": forms.NullBooleanField(label="Cache answers", required=False,
                                                            widget=forms.NullBooleanSelect),
                          "ttl": count("Cache TTL (s)")}),
        ("limits", Limits, dict(LIMIT_FIELDS)),
    )

    class Meta:
        model = Route
        fields = ["name", "description", "strategy", "max_tokens_cap", "enabled"]

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.tenant = tenant
        self.fields["fallbacks"].queryset = own_or_shared(Route.objects, tenant).exclude(pk=self.instance.pk)
        if self.instance.pk:
            self.initial["fallbacks"] = [link.fallback_id for link in self.instance.fallback_links.all()]
        self._add_spec_fields()

    def clean(self):
        data = super().clean()
        self._clean_specs(data)
        return data

    def validate_unique(self):
        ProviderForm.validate_unique_name(self, Route)


class TargetForm(forms.Form):
    provider = forms.ModelChoiceField(queryset=Provider.objects.none())
    model = forms.CharField(max_length=200, label="Upstream model")
    weight = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=1)

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = own_or_shared(Provider.objects, tenant)


TargetFormSet = forms.formset_factory(TargetForm, extra=0, can_delete=True, min_num=1, validate_min=True,
                                      max_num=50)  # 50 targets is far beyond any sane route


class TenantForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["name", "time_zone"]

    def clean_time_zone(self):
        try:
            return _time_zone(self.cleaned_data["time_zone"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class TeamForm(SpecFields, forms.ModelForm):
    specs = (("limits", Limits, dict(LIMIT_FIELDS)),)

    class Meta:
        model = Team
        fields = ["name"]

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.tenant = tenant
        self._add_spec_fields()

    def clean(self):
        data = super().clean()
        self._clean_specs(data)
        return data

    def validate_unique(self):
        ProviderForm.validate_unique_name(self, Team)


class MemberForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    role = forms.ChoiceField(choices=Role.choices)
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False)

    def __init__(self, *args, tenant, grantor_role, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.filter(tenant=tenant)
        if editing:
            self.fields["email"].disabled = True
        if grantor_role != Role.OWNER:  # only owners grant owner
            self.fields["role"].choices = [c for c in Role.choices if c[0] != Role.OWNER]


class KeyForm(forms.Form):
    name = forms.CharField(max_length=100)
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False)
    routes = forms.ModelMultipleChoiceField(queryset=Route.objects.none(), required=False,
                                            help_text="None selected: every route of the tenant.")
    expires_at = forms.DateTimeField(required=False, label="Expires at",
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["team"].queryset = Team.objects.filter(tenant=tenant)
        self.fields["routes"].queryset = own_or_shared(Route.objects, tenant)

    def clean_name(self):
        name = self.cleaned_data["name"]
        if ApiKey.objects.filter(tenant=self.tenant, name=name, revoked_at__isnull=True).exists():
            raise forms.ValidationError("a live key with this name exists")
        return name


class KeyRotateForm(forms.Form):
    grace_seconds = forms.IntegerField(min_value=0, max_value=MAX_GRACE_SECONDS, initial=0,
                                       label="Grace period (seconds)",
                                       help_text="How long the old secret keeps working.")


class BudgetForm(forms.ModelForm):
    alert_thresholds = forms.CharField(required=False, help_text="Percentages, comma-separated, e.g. 50, 80, 100")

    class Meta:
        model = Budget
        fields = ["scope", "team", "api_key", "user", "route", "amount_usd", "period", "action", "downgrade_route"]

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.tenant = tenant
        self.fields["team"].queryset = Team.objects.filter(tenant=tenant)
        self.fields["api_key"].queryset = ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True)
        self.fields["user"].queryset = User.objects.filter(memberships__tenant=tenant)
        for name in ("route", "downgrade_route"):
            self.fields[name].queryset = own_or_shared(Route.objects, tenant)
        self.initial.setdefault("alert_thresholds", ", ".join(map(str, self.instance.alert_thresholds or [])))

    def clean_alert_thresholds(self):
        raw = [p.strip() for p in self.cleaned_data["alert_thresholds"].split(",") if p.strip()]
        if not all(is_id(p) and 1 <= int(p) <= 1000 for p in raw):  # as BudgetSerializer
            raise forms.ValidationError("whole percentages between 1 and 1000")
        return [int(p) for p in raw]

    def save(self, commit=True):
        self.instance.alert_thresholds = self.cleaned_data["alert_thresholds"]
        return super().save(commit)


class PriceOverrideForm(forms.ModelForm):
    class Meta:
        model = PriceOverride
        fields = ["provider", "route", "model", "unit", "input_per_mtok", "output_per_mtok", "cached_input_per_mtok",
                  "cache_write_per_mtok", "per_hour_usd", "valid_from", "valid_to", "note"]
        widgets = {"valid_from": forms.DateTimeInput(attrs={"type": "datetime-local"}),
                   "valid_to": forms.DateTimeInput(attrs={"type": "datetime-local"})}

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.tenant = tenant
        self.fields["provider"].queryset = own_or_shared(Provider.objects, tenant)
        self.fields["route"].queryset = own_or_shared(Route.objects, tenant)


class AuditFilterForm(forms.Form):
    object_type = forms.CharField(required=False, label="Object type")
    action = forms.ChoiceField(required=False, choices=[("", "any"), *AuditEvent.Action.choices])
    actor = forms.CharField(required=False, label="Actor e-mail contains")
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="Until", widget=forms.DateInput(attrs={"type": "date"}))

