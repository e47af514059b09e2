"""Checking a flow definition before it is saved as a version.

Errors name the card by its id and path: an unknown card, a missing required input, an input
the card does not have, a reference to a card that does not exist or comes later, a block that
is missing, and a type mismatch where it can be known (a reference straight to a flow input or
to a card output whose types are declared).
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError

from apps.flows import registry, types
from apps.flows.errors import CardError
from apps.flows.expressions import references
from apps.flows.models import DELEGATED_INPUT_TYPES, FlowKind, InputType
from apps.flows.triggers import validate_trigger

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_DIRECT_REFERENCE = re.compile(r"^\s*\{\{\s*([A-Za-z_]\w*)\.([A-Za-z_]\w*)\s*\}\}\s*$")
GLOBALS = {"now", "range", "dict", "lipsum", "cycler", "joiner", "namespace"}
BLOCK_FIELDS = {
    "control.if": ("branches", "else"),
    "control.for_each": ("do",),
    "control.try": ("try", "catch"),
}


def validate_definition(definition: Any, *, kind: str = FlowKind.HELPER) -> None:
    """Raise ValidationError listing every problem of the definition."""
    errors: list[str] = []
    if not isinstance(definition, dict):
        raise ValidationError(["The definition must be a JSON object with inputs and cards."])
    input_types = _check_inputs(definition.get("inputs", []), kind, errors)
    errors.extend(validate_trigger(kind, definition.get("trigger")))
    cards = definition.get("cards")
    if not isinstance(cards, list):
        errors.append("'cards' must be a list of cards.")
        cards = []
    seen_ids: set[str] = set()
    _check_block(cards, {"inputs": None}, "", input_types, {}, seen_ids, errors)
    if errors:
        raise ValidationError(errors)


def _check_inputs(inputs: Any, kind: str, errors: list[str]) -> dict[str, str]:
    if not isinstance(inputs, list):
        errors.append("'inputs' must be a list of {name, type, required}.")
        return {}
    declared: dict[str, str] = {}
    for number, spec in enumerate(inputs, start=1):
        name = spec.get("name", "") if isinstance(spec, dict) else ""
        if not IDENTIFIER.match(name or ""):
            errors.append(f"Input {number}: the name must be an identifier (letters, digits, _).")
            continue
        if name in declared:
            errors.append(f"Input {name}: declared twice.")
        input_type = spec.get("type")
        if input_type not in InputType.values:
            errors.append(f"Input {name}: unknown type {input_type!r}.")
        elif kind == FlowKind.DELEGATED and input_type not in DELEGATED_INPUT_TYPES:
            errors.append(
                f"Input {name}: a delegated flow takes text, number, datetime or boolean inputs."
            )
        declared[name] = input_type
    return declared


def _check_block(cards, visible, prefix, input_types, output_types, seen_ids, errors):
    """Check a chain; `visible` holds the names cards may refer to, and grows as it goes.

    Branch and try / catch blocks share their parent's scope (as the engine runs them), so the
    ids they define are added to the caller's `visible`; a loop body gets its own copy.
    """
    if not isinstance(cards, list):
        errors.append(f"At {prefix or 'top'}: a block must be a list of cards.")
        return
    for position, spec in enumerate(cards, start=1):
        path = f"{prefix}{position}"
        if not isinstance(spec, dict):
            errors.append(f"Card at {path}: must be an object.")
            continue
        card_id = spec.get("id", "")
        where = f"Card '{card_id or '?'}' at {path}"
        if not IDENTIFIER.match(card_id or "") or card_id == "inputs":
            errors.append(f"{where}: needs an id made of letters, digits and _ (not 'inputs').")
        elif card_id in seen_ids:
            errors.append(f"{where}: the id '{card_id}' is used twice.")
        seen_ids.add(card_id)
        try:
            card_type = registry.get(spec.get("card", ""))
        except CardError as error:
            errors.append(f"{where}: {error}.")
            continue
        _check_card_inputs(spec, card_type, where, visible, input_types, output_types, errors)
        _check_error_policy(spec, where, errors)
        _check_children(spec, card_type, path, visible, input_types, output_types, seen_ids, errors)
        visible[card_id] = card_type
        output_types[card_id] = {f.name: f.type for f in card_type.outputs}


def _check_card_inputs(spec, card_type, where, visible, input_types, output_types, errors):
    given = spec.get("inputs", {})
    if not isinstance(given, dict):
        errors.append(f"{where}: 'inputs' must be an object.")
        return
    if not card_type.open_inputs:
        for name in sorted(set(given) - set(card_type.input_names)):
            errors.append(f"{where}: card {card_type.key} has no input '{name}'.")
    for field in card_type.inputs:
        if field.required and field.default is None and given.get(field.name) in (None, ""):
            errors.append(f"{where}: the required input '{field.name}' is missing.")
    fields = {f.name: f for f in card_type.inputs}
    for name, value in given.items():
        _check_references(value, f"{where}, input '{name}'", visible, input_types, errors)
        if name in fields:
            _check_type(
                value, fields[name], f"{where}, input '{name}'", input_types, output_types, errors
            )
    for branch in spec.get("branches", []) if isinstance(spec.get("branches"), list) else []:
        if isinstance(branch, dict):
            _check_references(
                branch.get("condition"), f"{where}, condition", visible, input_types, errors
            )


def _check_references(value, where, visible, input_types, errors):
    try:
        names = references(value)
    except CardError as error:
        errors.append(f"{where}: {error}")
        return
    for name in sorted(names - set(visible) - GLOBALS):
        errors.append(f"{where}: refers to '{name}', which is not an earlier card or an input.")
    if "inputs" in names and isinstance(value, (str, list, dict)):
        for used in sorted(
            set(re.findall(r"inputs\.([A-Za-z_]\w*)", str(value))) - set(input_types)
        ):
            errors.append(f"{where}: refers to inputs.{used}, which the flow does not declare.")


def _check_type(value, field, where, input_types, output_types, errors):
    if not isinstance(value, str):
        return
    match = _DIRECT_REFERENCE.match(value)
    if not match:
        return
    owner, attribute = match.groups()
    source = (
        input_types.get(attribute)
        if owner == "inputs"
        else output_types.get(owner, {}).get(attribute)
    )
    if source and source in types.ALL_TYPES and not types.compatible(source, field.type):
        errors.append(f"{where}: expects {field.type} but {owner}.{attribute} is {source}.")


def _check_error_policy(spec, where, errors):
    policy = spec.get("on_error")
    if policy is None:
        return
    if not isinstance(policy, dict) or policy.get("policy") not in ("stop", "continue", "retry"):
        errors.append(f"{where}: on_error.policy must be stop, continue or retry.")
        return
    if policy["policy"] == "retry":
        retries = policy.get("retries")
        if not isinstance(retries, int) or not 1 <= retries <= 10:
            errors.append(f"{where}: retry needs 'retries' between 1 and 10.")


def _check_children(spec, card_type, path, visible, input_types, output_types, seen_ids, errors):
    key = card_type.key
    where = f"Card '{spec.get('id', '?')}' at {path}"
    if key == "control.if":
        branches = spec.get("branches")
        if not isinstance(branches, list) or not branches:
            errors.append(f"{where}: needs 'branches', each with a condition and cards.")
            return
        for number, branch in enumerate(branches, start=1):
            if not isinstance(branch, dict) or "condition" not in branch:
                errors.append(f"{where}: branch {number} needs a condition.")
                continue
            _check_block(
                branch.get("cards", []),
                visible,
                f"{path}/if{number}/",
                input_types,
                output_types,
                seen_ids,
                errors,
            )
        _check_block(
            spec.get("else", []),
            visible,
            f"{path}/else/",
            input_types,
            output_types,
            seen_ids,
            errors,
        )
    elif key == "control.for_each":
        inner = {**visible, "item": None, "index": None}  # loop rounds see their own outputs
        if not spec.get("do") and not spec.get("inputs", {}).get("flow"):
            errors.append(f"{where}: needs 'do' cards or a helper 'flow' to call per item.")
        _check_block(
            spec.get("do", []), inner, f"{path}/", input_types, output_types, seen_ids, errors
        )
        _check_references(spec.get("collect"), f"{where}, collect", inner, input_types, errors)
    elif key == "control.try":
        if not isinstance(spec.get("try"), list) or not spec.get("try"):
            errors.append(f"{where}: needs 'try' cards.")
        _check_block(
            spec.get("try", []),
            visible,
            f"{path}/try/",
            input_types,
            output_types,
            seen_ids,
            errors,
        )
        catch_scope = {**visible, "error": None}
        _check_block(
            spec.get("catch", []),
            catch_scope,
            f"{path}/catch/",
            input_types,
            output_types,
            seen_ids,
            errors,
        )
        visible.update({name: v for name, v in catch_scope.items() if name != "error"})
