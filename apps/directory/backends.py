"""Sign in with an e-mail address or a username, whatever the case."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Q


class EmailOrUsernameBackend(ModelBackend):
    """Looks the login up as username or e-mail through the case-insensitive unique indexes."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        login = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        if not login or password is None:
            return None
        login = str(login).strip().lower()
        user_model = get_user_model()
        user = (
            user_model._default_manager.filter(Q(username__lower=login) | Q(email__lower=login))
            .order_by("pk")
            .first()
        )
        if user is None:
            user_model().set_password(password)  # same work as a real check: no timing oracle
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
