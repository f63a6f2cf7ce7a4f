"""`manage.py prices list [--provider P] [--model M]` / `prices show PROVIDER MODEL`: the price catalogue."""
from django.core.management.base import BaseCommand, CommandError

from billing.catalogue import GENAI_PROVIDER, GENAI_VERSION, catalogue_entries, genai_provider_id
from billing.models import PriceOverride

COLUMNS = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok")


class Command(BaseCommand):
    help = (
        f"Show the genai-prices catalogue ({GENAI_VERSION}, bundled: no network), USD per million tokens, "
        "and the price overrides stored for a model."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="catalogue models and their prices")
        listing.add_argument("--provider", help="a genai-prices provider id or a Switchyard provider kind")
        listing.add_argument("--model", help="a model name as a route target names it (aliases resolve)")
        show = sub.add_parser("show", help="one model's catalogue prices and its stored overrides")
        show.add_argument("provider")
        show.add_argument("model")

    def handle(self, *args, action, provider=None, model=None, **options):
        entries = catalogue_entries(provider=provider, model=model)
        if action == "show" and not entries:
            raise CommandError(f"{model!r} is not in the catalogue for provider {provider!r}")
        if action == "list":
            self.stdout.write("\t".join(("provider", "model", "input", "output", "cache read", "cache write")))
            for e in entries:
                self.stdout.write("\t".join([e["provider"], e["model"], *(e[c] or "-" for c in COLUMNS)]))
            self.stdout.write(f"{len(entries)} models (genai-prices {GENAI_VERSION})")
            return
        for e in entries:
            self.stdout.write(f"{e['provider']} {e['model']} ({e['name']}), USD per million tokens:")
            for column in COLUMNS:
                self.stdout.write(f"  {column.removesuffix('_per_mtok')}: {e[column] or '(the input price)'}")
            if e["tiered"]:
                self.stdout.write("  tiered: long prompts cost more; the base tier is shown and used")
        self._overrides(provider, model)

    def _overrides(self, provider, model):
        kinds = [kind for kind, genai in GENAI_PROVIDER.items() if genai == genai_provider_id(provider)]
        rows = PriceOverride.objects.filter(provider__kind__in=kinds, model=model).select_related("tenant", "route")
        for row in rows.order_by("valid_from"):
            window = f"{row.valid_from.isoformat()} .. {row.valid_to.isoformat() if row.valid_to else 'open'}"
            where = "/".join(filter(None, [row.tenant.slug if row.tenant else "shared", row.route and row.route.name]))
            if row.unit == PriceOverride.Unit.HOUR:
                prices = f"{row.per_hour_usd}/hour"
            else:
                prices = f"{row.input_per_mtok} in, {row.output_per_mtok} out"
            self.stdout.write(f"override {row.pk} ({row.scope}, {where}): {prices}, {window}")
