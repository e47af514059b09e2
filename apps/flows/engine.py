"""The flow engine: runs a version's cards in order and keeps their history.

One `Execution` per run. Cards run in the worker's process, one after another; each card's
record (inputs, outputs, error, timing) is kept in memory and written with one bulk insert when
the run ends, so history costs a single statement whatever the number of cards. Nested blocks
(branches, loops, try / if-error) run through the same `run_block`; a helper flow called and
waited for runs in-process as a child run with its own history.

A running run holds a lease (`lease_expires_at`), renewed between cards at most every quarter
of its length, never once per card. Before a card that is not idempotent (an e-mail, an HTTP
POST, a directory write) the engine writes which card it is entering (`side_effect_card`): if
the worker dies, whoever finds the lease lapsed (the redelivered task or the sweep) knows
whether the run may start again (only idempotent cards were running) or must be failed, so that
no side effect is ever done twice. A worker that finds its lease taken stops at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import signal
import threading
import time
from collections import ChainMap
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from apps.flows import expressions, registry
from apps.flows.errors import CardError, FlowLimitExceeded, FlowStopped, TransientCardError
from apps.flows.expressions import render
from apps.flows.models import CardRun, FlowRun, RunStatus

logger = logging.getLogger(__name__)

TRANSIENT_BACKOFF_CAP_SECONDS = 30.0


@dataclass(frozen=True)
class Limits:
    """How far one run may go before it is stopped with a clear message."""

    max_cards: int = 10_000
    max_seconds: float = 300.0
    max_depth: int = 5
    max_payload_bytes: int = 1_000_000
    # Helper runs one root run may start in all (at every depth, waited for or not).
    max_runs_per_root: int = 100
    # A running run's lease: renewed every quarter of it; a run whose lease lapsed is taken
    # up again (or failed) by the next worker that sees it. Keep it above the longest card
    # (an HTTP call may take 60 s).
    lease_seconds: float = 120.0
    # How many times a run is taken up again after losing its worker before it is failed.
    max_claims: int = 3

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(**getattr(settings, "FLOWS_LIMITS", {}))


class RunLost(Exception):
    """This worker no longer holds the run's lease (taken up elsewhere, or canceled)."""


# The executions running in this process, innermost last: a lease renewal renews them all,
# so a parent waiting for an in-process helper keeps its lease.
_active: ContextVar[tuple[Execution, ...]] = ContextVar("flow_executions", default=())


class CardFailed(Exception):
    """A card failed and its error policy says stop: the block (or the run) ends here."""

    def __init__(self, *, path: str, card_id: str, message: str):
        self.path, self.card_id, self.message = path, card_id, message
        super().__init__(f"card '{card_id}' ({path}): {message}")


def _plain(value: Any) -> Any:
    """A JSON-safe copy for the history (dates as ISO text, anything odd as its text)."""
    return json.loads(json.dumps(value, cls=_Encoder))


_SECRET_KEY = re.compile(r"authorization|password|secret|token|api[-_]?key|cookie", re.I)


def _redacted(value: Any) -> Any:
    """The history's copy of a card's inputs, without the values of secret-looking keys."""
    if isinstance(value, dict):
        return {
            key: "***" if isinstance(key, str) and _SECRET_KEY.search(key) else _redacted(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


class _Encoder(DjangoJSONEncoder):
    """Dates as ISO 8601; anything else JSON cannot hold, as its text."""

    def default(self, o):
        try:
            return super().default(o)
        except TypeError:
            return str(o)


class Execution:
    """The state of one run while it executes."""

    def __init__(self, run: FlowRun, *, limits: Limits | None = None, actor=None):
        self.run = run
        self.definition = run.version.definition
        self.limits = limits or Limits.from_settings()
        self.actor = actor
        self.keep_history = run.history_saved
        self.records: list[CardRun] = []
        self.executed = 0
        self.sequence = 0
        self.deadline = time.monotonic() + self.limits.max_seconds
        self.scope: dict[str, Any] = {"inputs": run.inputs}
        self.claim = run.claims  # the lease this worker holds: claims as it set them
        self.renew_every = self.limits.lease_seconds / 4
        self.renew_at = time.monotonic() + self.renew_every
        self.current_card = ""

    # --- running ---------------------------------------------------------------------------

    def run_all(self) -> Any:
        """Run the top-level chain; return the flow's output (its `output` template or a
        `return` card's value)."""
        outermost = not _active.get()
        token = _active.set((*_active.get(), self))
        backstop = _CpuBackstop(self) if outermost else None
        try:
            with expressions.deadline(self.deadline, self.limits.max_seconds):
                try:
                    self.run_block(self.definition.get("cards", []), self.scope, "")
                except FlowStopped as stop:
                    return stop.output
                output = self.definition.get("output")
                return render(output, self.scope) if output is not None else None
        finally:
            if backstop is not None:
                backstop.disarm()
            _active.reset(token)

    def run_block(self, cards: list[dict], scope: Mapping[str, Any], prefix: str) -> None:
        """Run a chain of cards; each card's outputs become visible to the ones after it."""
        for position, spec in enumerate(cards, start=1):
            self.run_card(spec, scope, f"{prefix}{position}")

    def run_card(self, spec: dict, scope: Mapping[str, Any], path: str) -> dict[str, Any]:
        self.executed += 1
        if self.executed > self.limits.max_cards:
            raise CardFailed(
                path=path,
                card_id=spec.get("id", "?"),
                message=f"the run executed more than {self.limits.max_cards} cards (limit)",
            )
        now = time.monotonic()
        if now > self.deadline:
            raise CardFailed(
                path=path,
                card_id=spec.get("id", "?"),
                message=f"the run took longer than {self.limits.max_seconds:g} s (limit)",
            )
        card_id = spec.get("id", f"card{path}")
        self.current_card = card_id
        if now > self.renew_at:
            renew_leases(now)
        self.sequence += 1
        sequence = self.sequence  # numbered when it starts: a block's card precedes its contents
        policy = spec.get("on_error") or {}
        retries = int(policy.get("retries", 0)) if policy.get("policy") == "retry" else 0
        started_at = timezone.now()
        started = time.perf_counter()
        attempts = 0
        inputs: Any = None
        outputs: dict[str, Any] | None = None
        error = ""
        stop: FlowStopped | None = None
        while True:
            attempts += 1
            try:
                card_type = registry.get(spec.get("card", ""))
                if card_type.blocks:
                    inputs, outputs = self._run_control(card_type, spec, scope, path)
                else:
                    inputs = card_type.check_inputs(render(spec.get("inputs", {}), scope))
                    if attempts == 1:
                        self._check_size("inputs", inputs)
                        if not card_type.is_idempotent(inputs):
                            self.entering_side_effect(card_id)
                    context = registry.CardContext(
                        run=self.run, actor=self.actor, scope=scope, engine=self
                    )
                    outputs = card_type.check_outputs(card_type.func(context, **inputs))
                self._check_size("outputs", outputs)
                error = ""
                break
            except FlowStopped as stopped:
                stop, outputs, error = stopped, {}, ""
                break
            except (CardFailed, RunLost):
                raise  # a nested card failed (its own record says so), or the run was lost
            except TransientCardError as failure:
                error = str(failure)
                backoff = float(policy.get("backoff_seconds", 1.0)) * 2 ** (attempts - 1)
                backoff = min(backoff, TRANSIENT_BACKOFF_CAP_SECONDS)
                if attempts <= retries and time.monotonic() + backoff < self.deadline:
                    time.sleep(backoff)
                    continue
                break
            except CardError as failure:
                error = str(failure)
                break
            except Exception as failure:  # a bug in a card: fail the card, keep the worker
                logger.exception("Card %s (%s) crashed", card_id, spec.get("card"))
                error = f"internal error in card {spec.get('card')}: {failure!r}"
                break
        self._record(
            spec, sequence, card_id, path, started_at, started, attempts, inputs, outputs, error
        )
        if stop is not None:
            raise stop
        if error:
            if policy.get("policy") == "continue":
                outputs = {"error": error}
            else:
                raise CardFailed(path=path, card_id=card_id, message=error)
        if isinstance(scope, ChainMap):
            scope.maps[0][card_id] = outputs
        else:
            scope[card_id] = outputs
        return outputs

    def _check_size(self, what: str, values: Any) -> None:
        size = len(json.dumps(values, cls=_Encoder))
        if size > self.limits.max_payload_bytes:
            raise FlowLimitExceeded(
                f"the {what} are {size} bytes, over the {self.limits.max_payload_bytes} limit"
            )

    # --- the lease -------------------------------------------------------------------------

    def entering_side_effect(self, card_id: str) -> None:
        """Say, before it starts, that this run is entering a card that must not run twice
        (committed at once outside a transaction); RunLost if the lease is no longer ours."""
        self._write_lease(time.monotonic(), side_effect_card=card_id[:255])

    def _write_lease(self, now: float, **fields) -> None:
        held = FlowRun.objects.filter(
            pk=self.run.pk, status=RunStatus.RUNNING, claims=self.claim
        ).update(
            lease_expires_at=timezone.now() + timedelta(seconds=self.limits.lease_seconds),
            current_card=self.current_card[:255],
            **fields,
        )
        self.renew_at = now + self.renew_every
        if not held:
            raise RunLost(f"run #{self.run.pk} was taken up elsewhere or canceled")

    def _record(
        self, spec, sequence, card_id, path, started_at, started, attempts, inputs, outputs, error
    ):
        if not self.keep_history:
            return
        self.records.append(
            CardRun(
                run=self.run,
                sequence=sequence,
                path=path,
                card_id=card_id,
                card_type=spec.get("card", ""),
                succeeded=not error,
                attempts=attempts,
                inputs=_redacted(_plain(inputs)) if inputs is not None else {},
                outputs=_plain(outputs) if outputs is not None and not error else None,
                error=error,
                started_at=started_at,
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        )

    # --- control cards with blocks ----------------------------------------------------------

    def _run_control(self, card_type, spec, scope, path):
        handler = {
            "control.if": self._if,
            "control.for_each": self._for_each,
            "control.try": self._try,
        }[card_type.key]
        return handler(spec, scope, path)

    def _if(self, spec, scope, path):
        for number, branch in enumerate(spec.get("branches", []), start=1):
            condition = render(branch.get("condition"), scope)
            if condition:
                self.run_block(branch.get("cards", []), scope, f"{path}/if{number}/")
                return {"branch": number}, {"branch": number}
        self.run_block(spec.get("else", []), scope, f"{path}/else/")
        return {"branch": "else"}, {"branch": "else"}

    def _for_each(self, spec, scope, path):
        inputs = registry.get("control.for_each").check_inputs(
            render(spec.get("inputs", {}), scope)
        )
        items = inputs["items"]
        results = []
        if inputs.get("flow") and items:
            self.entering_side_effect(spec.get("id", f"card{path}"))
        for index, item in enumerate(items):
            inner = ChainMap({"item": item, "index": index}, scope)
            if inputs.get("flow"):
                child = self.call_flow(inputs["flow"], {"item": item, "index": index})
                results.append(child)
                continue
            self.run_block(spec.get("do", []), inner, f"{path}/{index + 1}/")
            collect = spec.get("collect")
            if collect is not None:
                results.append(render(collect, inner))
            else:
                last = spec.get("do", [])[-1:]
                results.append(inner.maps[0].get(last[0].get("id")) if last else item)
        return {"items": len(items)}, {"results": results, "count": len(results)}

    def _try(self, spec, scope, path):
        try:
            self.run_block(spec.get("try", []), scope, f"{path}/try/")
        except CardFailed as failure:
            error = {"card": failure.card_id, "path": failure.path, "message": failure.message}
            inner = ChainMap({"error": error}, scope)
            self.run_block(spec.get("catch", []), inner, f"{path}/catch/")
            if isinstance(scope, ChainMap):
                scope.maps[0].update({k: v for k, v in inner.maps[0].items() if k != "error"})
            else:
                scope.update({k: v for k, v in inner.maps[0].items() if k != "error"})
            return {}, {"failed": True, "error": error}
        return {}, {"failed": False, "error": None}

    # --- child flows -----------------------------------------------------------------------
    # Starting a helper is never idempotent for the caller: the card says so before it runs.

    def call_flow(self, flow_name: str, inputs: dict[str, Any]) -> Any:
        """Run a helper flow now, as a child of this run, and return its output."""
        from apps.flows import services

        if self.run.depth + 1 > self.limits.max_depth:
            raise FlowLimitExceeded(
                f"helper flows are nested more than {self.limits.max_depth} deep (limit)"
            )
        child = services.run_child(parent=self.run, flow_name=flow_name, inputs=inputs, wait=True)
        if child.status != "succeeded":
            raise CardError(
                f"helper flow '{flow_name}' {child.status}: "
                f"{child.error or 'no error message'} (run #{child.pk})"
            )
        return child.output

    def start_flow(self, flow_name: str, inputs: dict[str, Any]) -> int:
        """Queue a helper flow as a child of this run; return the child run's id."""
        from apps.flows import services

        if self.run.depth + 1 > self.limits.max_depth:
            raise FlowLimitExceeded(
                f"helper flows are nested more than {self.limits.max_depth} deep (limit)"
            )
        child = services.run_child(parent=self.run, flow_name=flow_name, inputs=inputs, wait=False)
        return child.pk


def renew_leases(now: float | None = None) -> None:
    """Renew the lease of every run executing in this process (a parent and the helpers it
    waits for); RunLost if the innermost one, the run executing now, is no longer ours (a
    parent that lost its lease finds out at its own next write)."""
    now = time.monotonic() if now is None else now
    *callers, current = _active.get()
    for execution in callers:
        with contextlib.suppress(RunLost):
            execution._write_lease(now)
    current._write_lease(now)


class _CpuBackstop:
    """The run's time limit for code that never reaches a check (a loop in a card, a template
    looping over a long list): after the run's seconds of CPU time, a SIGVTALRM stops the run
    if its deadline has passed. A CPU timer, so that it leaves the queue's SIGALRM (its task
    timeout) alone; only in the main thread, where Python delivers signals."""

    def __init__(self, execution: Execution):
        self.execution = execution
        self.armed = False
        if threading.current_thread() is not threading.main_thread():
            return
        if not hasattr(signal, "setitimer"):
            return
        self.previous = signal.signal(signal.SIGVTALRM, self._fire)
        signal.setitimer(signal.ITIMER_VIRTUAL, execution.limits.max_seconds + 0.1)
        self.armed = True

    def _fire(self, signum, frame) -> None:
        left = self.execution.deadline - time.monotonic()
        if left > 0:  # CPU time runs slower than the clock: not yet past the deadline
            signal.setitimer(signal.ITIMER_VIRTUAL, left + 0.1)
            return
        raise FlowLimitExceeded(
            f"the run took longer than {self.execution.limits.max_seconds:g} s (limit)"
        )

    def disarm(self) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            signal.signal(signal.SIGVTALRM, self.previous or signal.SIG_DFL)
