"""Sign in with an e-mail address or a username, whatever the case."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from apps.directory.selectors import find_user


class EmailOrUsernameBackend(ModelBackend):
    """Looks the login up as username, then e-mail, through the case-insensitive indexes."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        login = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        if not login or password is None:
            return None
        user = find_user(str(login))
        if user is None:
            get_user_model()().set_password(password)  # same work as a real check: no timing oracle
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
