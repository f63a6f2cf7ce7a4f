# Budget counter repairs recorded by the reconcile job (billing/budgets.py).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0005_prices'),
    ]

    operations = [
        migrations.CreateModel(
            name='BudgetReconciliation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('period', models.CharField(max_length=16)),
                ('period_start', models.DateTimeField()),
                ('ran_at', models.DateTimeField(auto_now_add=True)),
                ('ledger_usd', models.DecimalField(decimal_places=12, max_digits=20)),
                ('drift_usd', models.DecimalField(decimal_places=12, max_digits=20)),
                ('lapsed_reservations', models.PositiveIntegerField(default=0)),
                ('reserved_usd', models.DecimalField(decimal_places=6, max_digits=20)),
                ('budget', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                             related_name='reconciliations', to='billing.budget')),
            ],
            options={
                'ordering': ['-ran_at'],
                'indexes': [models.Index(fields=['budget', 'ran_at'], name='budget_recon_time')],
            },
        ),
    ]
