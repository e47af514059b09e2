"""Model validation helpers."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DEFAULT_DB_ALIAS


class ConstraintErrorsOnFields:
    """Report a violated constraint on the field it guards, not as a form-wide error.

    Django files errors of expression-based constraints (case-insensitive uniqueness) under
    `__all__`; forms and the API are clearer when "already exists" sits next to the field.
    Subclasses map constraint names to field names in `constraint_fields`.
    """

    constraint_fields: dict[str, str] = {}

    def validate_constraints(self, exclude=None):
        exclude = set(exclude or ())
        errors: dict[str, list[str]] = {}
        using = getattr(self._state, "db", None) or DEFAULT_DB_ALIAS
        for model_class, constraints in self.get_constraints():
            for constraint in constraints:
                field = self.constraint_fields.get(constraint.name, NON_FIELD_ERRORS)
                if field in exclude:
                    continue
                try:
                    constraint.validate(model_class, self, exclude=exclude, using=using)
                except ValidationError as error:
                    errors.setdefault(field, []).extend(error.messages)
        if errors:
            raise ValidationError(errors)
