"""Errors shared by every app; audit is the floor, so everyone may import them from here."""

from apps.core.statemachine import IllegalTransition

__all__ = ["AppendOnlyError", "IllegalTransition", "UnknownEventType"]


class AppendOnlyError(Exception):
    """The system log only grows: its rows are never updated or deleted."""


class UnknownEventType(LookupError):
    """An event was emitted under a type that no app registered in the catalogue."""
