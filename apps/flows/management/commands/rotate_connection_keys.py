"""Re-encrypt every stored connection secret under the first of CONNECTIONS_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand, CommandError

from apps.flows import encryption, services


class Command(BaseCommand):
    help = (
        "Re-encrypt stored connections' secrets under the first key of "
        "CONNECTIONS_ENCRYPTION_KEYS. Put the new key first, run this, then drop the old key."
    )

    def handle(self, *args, **options):
        try:
            count = services.connections_rotate_keys()
        except (encryption.SecretUnreadable, encryption.EncryptionNotConfigured) as error:
            raise CommandError(f"{error}: keep every old key listed until this succeeds") from None
        self.stdout.write(f"Re-encrypted the secrets of {count} connection(s).")
