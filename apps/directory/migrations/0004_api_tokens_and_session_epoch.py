"""API tokens stored hashed (replacing rest_framework.authtoken), and the session epoch.

Tokens of `rest_framework.authtoken` (plaintext, no expiry) are carried over hashed, named
"Migrated API token", expiring after API_TOKEN_DEFAULT_DAYS, so clients keep working; then its
table, which held the secrets in clear, is dropped.
"""

import datetime as dt
import hashlib

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.utils.dateparse import parse_datetime


LEGACY_TABLE = "authtoken_token"


def carry_over_legacy_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("directory", "ApiToken")
    quoted = schema_editor.quote_name(LEGACY_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {schema_editor.quote_name('key')}, created, user_id FROM {quoted}")
        rows = cursor.fetchall()
    now = django.utils.timezone.now()
    days = getattr(settings, "API_TOKEN_DEFAULT_DAYS", 30)

    def aware(created):
        if isinstance(created, str):  # SQLite's cursor answers text
            created = parse_datetime(created)
        if created is not None and django.utils.timezone.is_naive(created):
            created = django.utils.timezone.make_aware(created, dt.UTC)
        return created or now

    ApiToken.objects.bulk_create(
        ApiToken(
            user_id=user_id,
            name="Migrated API token",
            prefix=key[:8],
            key_hash=hashlib.sha256(key.encode()).hexdigest(),
            created_at=aware(created),
            expires_at=now + dt.timedelta(days=days),
        )
        for key, created, user_id in rows
    )
    schema_editor.execute(f"DROP TABLE {quoted}")
    schema_editor.execute("DELETE FROM django_migrations WHERE app = %s", params=["authtoken"])


class Migration(migrations.Migration):

    dependencies = [
        ('directory', '0003_last_name_ci_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='user',
            name='session_epoch',
            field=models.PositiveIntegerField(default=0, editable=False, help_text='Raised to end every open session of the person (suspension, deprovisioning).'),
        ),
        migrations.CreateModel(
            name='ApiToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(help_text='What the token is for, e.g. CI export.', max_length=100)),
                ('prefix', models.CharField(help_text='The first characters of the token, to recognise it.', max_length=16)),
                ('key_hash', models.CharField(editable=False, max_length=64, unique=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('expires_at', models.DateTimeField()),
                ('last_used_at', models.DateTimeField(blank=True, null=True)),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
                ('revoke_reason', models.CharField(blank=True, max_length=32)),
                ('revoked_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'API token',
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['user', 'revoked_at'], name='directory_apitoken_user_idx')],
            },
        ),
        migrations.RunPython(carry_over_legacy_tokens, migrations.RunPython.noop),
    ]
