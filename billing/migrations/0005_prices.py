# Price overrides, re-rating runs and adjustments; cache-write tokens and provider-reported cost in the ledger.

import uuid

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0004_alerts'),
        ('gateway', '0003_policy_settings'),  # the tenant, route and provider tables
    ]

    operations = [
        migrations.CreateModel(
            name='RerateRun',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('period_start', models.DateTimeField()),
                ('period_end', models.DateTimeField()),
                ('tenant_id', models.BigIntegerField(blank=True, null=True)),
                ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('rows_scanned', models.PositiveIntegerField(default=0)),
                ('rows_adjusted', models.PositiveIntegerField(default=0)),
                ('rows_skipped', models.PositiveIntegerField(default=0)),
                ('old_total_usd', models.DecimalField(decimal_places=12, default=0, max_digits=20)),
                ('new_total_usd', models.DecimalField(decimal_places=12, default=0, max_digits=20)),
                ('delta_usd', models.DecimalField(decimal_places=12, default=0, max_digits=20)),
            ],
            options={
                'ordering': ['-started_at'],
            },
        ),
        migrations.AddField(
            model_name='usagerecord',
            name='cache_write_tokens',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='usagerecord',
            name='provider_cost_usd',
            field=models.DecimalField(blank=True, decimal_places=12, max_digits=20, null=True),
        ),
        migrations.CreateModel(
            name='PriceOverride',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('model', models.CharField(help_text="the upstream model, as in the route's target", max_length=200)),
                ('unit', models.CharField(choices=[('token', 'Token'), ('hour', 'Hour')], default='token', max_length=8)),
                ('input_per_mtok', models.DecimalField(blank=True, decimal_places=6, help_text='USD per million uncached input tokens', max_digits=14, null=True, validators=[django.core.validators.MinValueValidator(0)])),
                ('output_per_mtok', models.DecimalField(blank=True, decimal_places=6, help_text='USD per million output tokens', max_digits=14, null=True, validators=[django.core.validators.MinValueValidator(0)])),
                ('cached_input_per_mtok', models.DecimalField(blank=True, decimal_places=6, help_text='USD per million cache-read input tokens (empty: the input price)', max_digits=14, null=True, validators=[django.core.validators.MinValueValidator(0)])),
                ('cache_write_per_mtok', models.DecimalField(blank=True, decimal_places=6, help_text='USD per million cache-write input tokens (empty: the input price)', max_digits=14, null=True, validators=[django.core.validators.MinValueValidator(0)])),
                ('per_hour_usd', models.DecimalField(blank=True, decimal_places=6, help_text='USD per hour of a self-hosted deployment (unit hour)', max_digits=14, null=True, validators=[django.core.validators.MinValueValidator(0)])),
                ('valid_from', models.DateTimeField(default=django.utils.timezone.now)),
                ('valid_to', models.DateTimeField(blank=True, help_text='exclusive; empty: until further notice', null=True)),
                ('note', models.CharField(blank=True, help_text='e.g. the contract it comes from', max_length=200)),
                ('revision', models.PositiveIntegerField(default=1)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('provider', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='price_overrides', to='gateway.provider')),
                ('route', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='price_overrides', to='gateway.route')),
                ('tenant', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='price_overrides', to='gateway.tenant')),
            ],
            options={
                'ordering': ['provider_id', 'model', 'tenant_id', 'route_id', 'valid_from'],
                'indexes': [models.Index(fields=['provider', 'model'], name='price_override_target')],
                'constraints': [models.CheckConstraint(condition=models.Q(('valid_to__isnull', True), ('valid_to__gt', models.F('valid_from')), _connector='OR'), name='price_override_window')],
            },
        ),
        migrations.CreateModel(
            name='RatingAdjustment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event_id', models.UUIDField()),
                ('tenant_id', models.BigIntegerField(null=True)),
                ('usage_at', models.DateTimeField()),
                ('old_cost_usd', models.DecimalField(decimal_places=12, max_digits=20)),
                ('new_cost_usd', models.DecimalField(decimal_places=12, max_digits=20)),
                ('delta_usd', models.DecimalField(decimal_places=12, max_digits=20)),
                ('price_version', models.CharField(blank=True, max_length=64)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('run', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='adjustments', to='billing.reraterun')),
            ],
            options={
                'ordering': ['usage_at', 'id'],
                'indexes': [models.Index(fields=['event_id'], name='rating_adj_event'), models.Index(fields=['tenant_id', 'usage_at'], name='rating_adj_tenant_time')],
            },
        ),
    ]
