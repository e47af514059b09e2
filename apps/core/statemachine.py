"""Explicit state machines: the allowed moves are data, checked in one place.

A lifecycle is a table `{verb: (from_states, to_state)}`. `move()` returns the target state for
a verb or raises `IllegalTransition`; callers never assign a status field by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError


class IllegalTransition(Exception):
    """A verb was applied to an object whose current state does not allow it."""

    def __init__(self, *, subject: str, verb: str, current: str, allowed_from: Iterable[str]):
        self.subject = subject
        self.verb = verb
        self.current = current
        self.allowed_from = tuple(sorted(allowed_from))
        super().__init__(
            f"Cannot {verb} {subject}: it is {current}; {verb} is allowed only from "
            f"{', '.join(self.allowed_from)}."
        )


class StateConflict(ValidationError):
    """The object moved on meanwhile: already decided, no longer open (the API answers 409).

    A ValidationError, so forms and pages that show validation errors show this one too.
    """


@dataclass(frozen=True)
class Lifecycle:
    """A named table of verbs, each with the states it may start from and the state it ends in."""

    name: str
    moves: Mapping[str, tuple[frozenset[str], str]]

    def target(self, verb: str, current: str, *, subject: str | None = None) -> str:
        """The state that `verb` leads to from `current`, or IllegalTransition."""
        try:
            sources, destination = self.moves[verb]
        except KeyError:
            raise ValueError(f"{self.name} has no verb {verb!r}") from None
        if current not in sources:
            raise IllegalTransition(
                subject=subject or self.name, verb=verb, current=current, allowed_from=sources
            )
        return destination

    def allowed_verbs(self, current: str) -> list[str]:
        """Verbs that may be applied from `current`, in table order."""
        return [verb for verb, (sources, _) in self.moves.items() if current in sources]
