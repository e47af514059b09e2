"""Named reads of the teams app, and the hook through which higher apps report open work."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from apps.teams.models import Team

# A counter answers, for some members of a team, how many open work items each holds. Teams
# cannot import the apps that own the work (access requests, tasks), so those register here.
OpenWorkCounter = Callable[[Team, Sequence[int]], Mapping[int, int]]

_open_work_counters: list[OpenWorkCounter] = []


def register_open_work_counter(counter: OpenWorkCounter) -> None:
    """Count open work with `counter` too; the counts of all registered counters are added up."""
    if counter not in _open_work_counters:
        _open_work_counters.append(counter)


def unregister_open_work_counter(counter: OpenWorkCounter) -> None:
    """Stop asking `counter` (tests use it to clean up)."""
    if counter in _open_work_counters:
        _open_work_counters.remove(counter)


def open_work_counts(*, team: Team, user_ids: Sequence[int]) -> dict[int, int]:
    """Open work items per user id, summed over the registered counters; 0 when none counts."""
    counts = dict.fromkeys(user_ids, 0)
    for counter in _open_work_counters:
        for user_id, count in counter(team, user_ids).items():
            if user_id in counts:
                counts[user_id] += count
    return counts
