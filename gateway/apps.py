from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.apps import apps

        from gateway.services import audit, config_version

        audit.connect(
            apps.get_model(label)
            for label in (
                "gateway.User",
                "gateway.Tenant",
                "gateway.Team",
                "gateway.Membership",
                "gateway.ApiKey",
                "gateway.Provider",
                "gateway.Route",
                "gateway.RouteTarget",
                "gateway.RouteFallback",
                "billing.Budget",
                "billing.PriceOverride",
                "billing.AlertChannel",
                "billing.AlertSettings",
            )
        )
        config_version.connect()
