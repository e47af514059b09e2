"""The step chain of a request type: validating it, snapshotting it, and reading answers.

Pure functions over plain data: the admin, the services and the API share them, so a chain is
judged the same way wherever it is edited or run.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date

from apps.access_requests.models import (
    ActionKind,
    ApproverKind,
    ConditionOperator,
    FlowInputSource,
    QuestionType,
    RequestAttribute,
    RequestType,
    Step,
    StepKind,
)
from apps.directory.attributes import coerce_attribute_value
from apps.flows import types as flow_types
from apps.flows.models import Flow, FlowKind

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TEXT_LIMITS = {QuestionType.TEXT: 500, QuestionType.LONG_TEXT: 10_000}
DATE_QUESTION_TYPES = {QuestionType.DATE, QuestionType.DATETIME}
FUTURE_ONLY_MESSAGE = "Choose a date in the future."

STEP_FIELDS = {
    StepKind.QUESTION: (
        "key",
        "label",
        "help_text",
        "question_type",
        "required",
        "future_only",
        "config_list_id",
        "options",
    ),
    StepKind.APPROVAL: (
        "approver_kind",
        "approver_user_id",
        "approver_team_id",
        "approver_group_id",
        "quorum",
        "timeout_hours",
        "on_timeout",
        "escalation_user_id",
    ),
    StepKind.ACTION: ("action_kind", "duration_days", "end_date_key", "flow_id", "flow_inputs"),
    StepKind.TASK: ("title", "instructions"),
}
# Within an action, the fields each action kind uses (the others must stay empty).
ACTION_FIELDS = {
    ActionKind.GRANT_RESOURCE: ("duration_days", "end_date_key"),
    ActionKind.RUN_DELEGATED_FLOW: ("flow_id", "flow_inputs"),
}

# The flow type of the value each source gives a delegated flow input. Requests know no
# objects or lists, and delegated flows take none: text, number, datetime and boolean only.
ATTRIBUTE_TYPES = {
    RequestAttribute.REQUESTER_EMAIL: flow_types.TEXT,
    RequestAttribute.SUBJECT: flow_types.TEXT,
    RequestAttribute.ASSIGNEE_EMAIL: flow_types.TEXT,
    RequestAttribute.REQUEST_ID: flow_types.NUMBER,
    RequestAttribute.REQUEST_URL: flow_types.TEXT,
}
QUESTION_FLOW_TYPES = {
    QuestionType.TEXT: flow_types.TEXT,
    QuestionType.LONG_TEXT: flow_types.TEXT,
    QuestionType.OPTIONS: flow_types.TEXT,
    QuestionType.LIST_CHOICE: flow_types.TEXT,  # the item's value
    QuestionType.NUMBER: flow_types.NUMBER,
    QuestionType.DATE: flow_types.DATETIME,  # midnight at the start of that day
    QuestionType.DATETIME: flow_types.DATETIME,
    QuestionType.BOOLEAN: flow_types.BOOLEAN,
    QuestionType.USER: flow_types.NUMBER,  # the person's id (a text input takes it as text)
}


# --- Validation of a configured chain -------------------------------------------------------


def validate_step_chain(request_type: RequestType, steps: Iterable[Step]) -> None:
    """Raise ValidationError listing every problem of the chain, each naming its step."""
    errors: list[str] = []
    questions: dict[str, Step] = {}
    ordered = sorted(steps, key=lambda s: s.position)
    positions = [step.position for step in ordered]
    for position in sorted({p for p in positions if positions.count(p) > 1}):
        errors.append(f"Position {position} is given to more than one step: number them in order.")
    for step in ordered:
        kind = step.get_kind_display() if step.kind in StepKind.values else "unknown kind"
        for problem in _step_problems(request_type, step, questions):
            errors.append(f"Step at position {step.position} ({kind}): {problem}")
        if step.kind == StepKind.QUESTION and step.key:
            questions[step.key] = step
    if errors:
        raise ValidationError(errors)


def _step_problems(request_type, step: Step, earlier: Mapping[str, Step]) -> list[str]:
    problems: list[str] = []
    if step.kind not in StepKind.values:
        return ["choose what kind of step this is (question, approval, action or task)."]
    if step.condition_key or step.condition_operator:
        problems += _condition_problems(step, earlier)
    checker = {
        StepKind.QUESTION: _question_problems,
        StepKind.APPROVAL: _approval_problems,
        StepKind.ACTION: _action_problems,
        StepKind.TASK: _task_problems,
    }[step.kind]
    return problems + checker(request_type, step, earlier)


def _condition_problems(step: Step, earlier: Mapping[str, Step]) -> list[str]:
    if not step.condition_key:
        return ["the condition needs the key of an earlier question."]
    if step.condition_key not in earlier:
        return [
            f"the condition refers to {step.condition_key!r}, which is not an earlier question."
        ]
    if not step.condition_operator:
        return ["the condition needs an operator."]
    needs_value = step.condition_operator in (
        ConditionOperator.EQUALS,
        ConditionOperator.NOT_EQUALS,
    )
    if needs_value and not step.condition_value:
        return ["the condition needs a value to compare with."]
    question = earlier[step.condition_key]
    boolean_operator = step.condition_operator in (
        ConditionOperator.IS_TRUE,
        ConditionOperator.IS_FALSE,
    )
    if boolean_operator and question.question_type != QuestionType.BOOLEAN:
        return [f"'is yes / is no' needs a yes/no question; {question.key!r} is not one."]
    if needs_value:
        return _comparison_problems(step, question)
    return []


def _comparison_problems(step: Step, question: Step) -> list[str]:
    """An equals / does-not-equal condition must compare with an answer the question can give."""
    value, key = step.condition_value, question.key
    if question.question_type == QuestionType.NUMBER:
        try:
            number = coerce_attribute_value("number", value)
        except ValidationError:
            return [f"{key!r} is a number question, and {value!r} is not a number."]
        if str(number) != value.strip():
            return [f"{key!r} is a number question: write the value as {number}."]
        return []
    if question.question_type == QuestionType.BOOLEAN:
        possible, what = [True, False], "a yes/no question is yes or no"
    elif question.question_type == QuestionType.OPTIONS:
        values = [option["value"] for option in parse_options(question.options) if option["value"]]
        possible, what = values, f"its options are {', '.join(values)}"
    elif question.question_type == QuestionType.LIST_CHOICE and question.config_list_id:
        from apps.catalog.models import ConfigListItem

        values = list(
            ConfigListItem.objects.filter(config_list_id=question.config_list_id)
            .order_by("position", "value")
            .values_list("value", flat=True)
        )
        possible, what = values, f"its list holds {', '.join(values) or 'no item yet'}"
    else:
        return []  # free answers (text, dates, people): any value may come
    wanted = {"key": key, "operator": ConditionOperator.EQUALS, "value": value}
    if any(condition_holds({"condition": wanted}, {key: answer}) for answer in possible):
        return []
    return [f"the condition compares {key!r} with {value!r}, which it can never be: {what}."]


def _question_problems(request_type, step: Step, earlier: Mapping[str, Step]) -> list[str]:
    problems = []
    if not KEY_PATTERN.match(step.key or ""):
        problems.append("the key must start with a lowercase letter, then a-z, 0-9 or _.")
    elif step.key in earlier:
        problems.append(f"the key {step.key!r} is used by an earlier question.")
    if not step.label:
        problems.append("the question needs a label.")
    if not step.question_type:
        problems.append("choose the question's type.")
    if step.question_type == QuestionType.LIST_CHOICE:
        if not step.config_list_id:
            problems.append("a choice from a configuration list needs the list.")
        elif request_type.owning_team_id and not _list_usable_by(step.config_list_id, request_type):
            problems.append("the owning team may not use this configuration list.")
    if step.future_only and step.question_type not in DATE_QUESTION_TYPES:
        problems.append("'future only' is for date and date-and-time questions.")
    if step.question_type == QuestionType.OPTIONS:
        problems += _options_problems(step.options)
    return problems


def _options_problems(text: str) -> list[str]:
    """Each option needs a value, and no two values may read the same (conditions ignore case)."""
    problems, seen, usable = [], set(), 0
    for number, line in enumerate((text or "").splitlines(), start=1):
        written = line.strip()
        if not written:
            continue
        value = written.partition("|")[0].strip()
        if not value:
            problems.append(
                f"the option on line {number} ({written!r}) has no value: write value|label, "
                "or just the label."
            )
        elif value.lower() in seen:
            problems.append(f"the option value {value!r} is given more than once.")
        else:
            seen.add(value.lower())
            usable += 1
    if not usable and not problems:
        problems.append("a choice from options needs at least one option.")
    return problems


def _list_usable_by(config_list_id: int, request_type: RequestType) -> bool:
    from apps.catalog.models import ConfigList

    return ConfigList.objects.filter(
        pk=config_list_id, teams__pk=request_type.owning_team_id
    ).exists()


def _approval_problems(request_type, step: Step, earlier) -> list[str]:
    problems = []
    required_field = {
        ApproverKind.USER: ("approver_user_id", "a named approver"),
        ApproverKind.TEAM: ("approver_team_id", "a team"),
        ApproverKind.GROUP: ("approver_group_id", "a group"),
    }
    if not step.approver_kind:
        return ["choose who approves."]
    if step.approver_kind in required_field:
        field, what = required_field[step.approver_kind]
        if not getattr(step, field):
            problems.append(
                f"an approval by {step.get_approver_kind_display().lower()} needs {what}."
            )
    if step.approver_kind == ApproverKind.RESOURCE_OWNER and not (
        request_type.resource_group_id or request_type.resource_application_id
    ):
        problems.append("approval by the resource owner needs a group or application resource.")
    if not step.quorum or step.quorum < 1:
        problems.append("the quorum must be at least 1.")
    if step.on_timeout and not step.timeout_hours:
        problems.append("an action on timeout needs a timeout in hours.")
    if step.timeout_hours and not step.on_timeout:
        problems.append("a timeout needs what to do when it passes (escalate or deny).")
    return problems


def _action_problems(request_type, step: Step, earlier: Mapping[str, Step]) -> list[str]:
    problems = []
    if not step.action_kind:
        return ["choose the action."]
    stray = [
        Step._meta.get_field(name.removesuffix("_id")).verbose_name
        for kind, names in ACTION_FIELDS.items()
        if kind != step.action_kind
        for name in names
        if getattr(step, name)
    ]
    if stray:
        problems.append(
            f"the action '{step.get_action_kind_display().lower()}' does not use "
            f"{', '.join(stray)}: clear them."
        )
    if step.action_kind == ActionKind.RUN_DELEGATED_FLOW:
        return problems + _delegated_flow_problems(request_type, step, earlier)
    if step.action_kind == ActionKind.GRANT_RESOURCE:
        if not (request_type.resource_group_id or request_type.resource_application_id):
            problems.append("granting needs a group or application resource on the request type.")
        if step.duration_days and step.end_date_key:
            problems.append("give either a duration or an end-date question, not both.")
        if step.end_date_key:
            question = earlier.get(step.end_date_key)
            if question is None:
                problems.append(
                    f"the end date refers to {step.end_date_key!r}, not an earlier question."
                )
            elif question.question_type not in DATE_QUESTION_TYPES:
                problems.append(f"the end date question {step.end_date_key!r} is not a date.")
    return problems


def _delegated_flow_problems(request_type, step: Step, earlier: Mapping[str, Step]) -> list[str]:
    """The flow may be used by the owning team, and every input is mapped to a fitting value."""
    if not step.flow_id:
        return ["choose the delegated flow to run."]
    flow = Flow.objects.select_related("current_version").filter(pk=step.flow_id).first()
    if flow is None:
        return ["the chosen flow no longer exists."]
    problems = []
    if flow.kind != FlowKind.DELEGATED:
        problems.append(f"the flow {flow} is not a delegated flow.")
    if not flow.enabled:
        problems.append(f"the flow {flow} is disabled.")
    if (
        request_type.owning_team_id
        and not flow.allowed_teams.filter(pk=request_type.owning_team_id).exists()
    ):
        problems.append(f"the owning team may not use the flow {flow}.")
    if flow.current_version_id is None:
        return [*problems, f"the flow {flow} has no saved definition yet."]
    mapping = step.flow_inputs
    if mapping in (None, ""):
        mapping = {}
    if not isinstance(mapping, dict):
        return [*problems, "the flow inputs must be a JSON object: {flowInput: {source, value}}."]
    declared = {spec["name"]: spec for spec in flow.current_version.inputs}
    for name in mapping:
        if name not in declared:
            problems.append(f"the flow {flow} has no input {name!r}.")
    for name, spec in declared.items():
        source = mapping.get(name)
        if source is None:
            if spec.get("required", True):
                problems.append(
                    f"the flow input {name!r} is required: map it to a request attribute or "
                    "an earlier answer."
                )
            continue
        problems += _flow_input_problems(
            name, spec["type"], source, earlier, required=spec.get("required", True)
        )
    return problems


def _flow_input_problems(
    name: str, input_type: str, source: Any, earlier: Mapping[str, Step], *, required: bool
) -> list[str]:
    """One mapped input: a known source whose type fits the input's type."""
    if not isinstance(source, dict) or set(source) != {"source", "value"}:
        return [f'the flow input {name!r} needs {{"source": ..., "value": ...}}.']
    kind, value = source["source"], source["value"]
    if kind == FlowInputSource.ATTRIBUTE:
        if value not in ATTRIBUTE_TYPES:
            known = ", ".join(ATTRIBUTE_TYPES)
            return [f"the flow input {name!r} names an unknown attribute {value!r} ({known})."]
        given, what = ATTRIBUTE_TYPES[value], f"the attribute {value!r}"
    elif kind in (FlowInputSource.ANSWER, FlowInputSource.ANSWER_LABEL):
        question = earlier.get(value) if isinstance(value, str) else None
        if question is None:
            return [
                f"the flow input {name!r} refers to {value!r}, which is not an earlier question."
            ]
        given = QUESTION_FLOW_TYPES.get(question.question_type)
        if kind == FlowInputSource.ANSWER_LABEL:
            given = flow_types.TEXT  # how the answer reads is always text
        what = f"the {question.get_question_type_display().lower()} question {value!r}"
        if given is None:
            return [f"the flow input {name!r}: {what} has no type yet."]
        if required and not question.required:
            return [
                f"the flow input {name!r} is required, but {what} is optional: make the "
                "question required or map another value."
            ]
    else:
        return [
            f"the flow input {name!r}: the source must be 'attribute', 'answer' or 'answer_label'."
        ]
    if input_type not in flow_types.ALL_TYPES or not flow_types.compatible(given, input_type):
        return [f"the flow input {name!r} takes {input_type}, but {what} gives {given}."]
    return []


def _task_problems(request_type, step: Step, earlier) -> list[str]:
    return [] if step.title else ["the task needs a title."]


def parse_options(text: str) -> list[dict[str, str]]:
    """Options written one per line as `value|label` or `label` (the value is then the label)."""
    options = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        value, _, label = line.partition("|")
        options.append({"value": value.strip(), "label": (label or value).strip()})
    return options


# --- Snapshots ------------------------------------------------------------------------------


def snapshot(request_type: RequestType, steps: Iterable[Step]) -> dict[str, Any]:
    """Everything a request needs from its type, frozen at submission."""
    resource = None
    if request_type.resource_group_id:
        resource = {
            "kind": "group",
            "id": request_type.resource_group_id,
            "name": str(request_type.resource_group),
        }
    elif request_type.resource_application_id:
        resource = {
            "kind": "application",
            "id": request_type.resource_application_id,
            "name": str(request_type.resource_application),
        }
    elif request_type.resource_item_id:
        resource = {
            "kind": "item",
            "id": request_type.resource_item_id,
            "name": str(request_type.resource_item),
        }
    return {
        "request_type_id": request_type.pk,
        "name": request_type.name,
        "version": request_type.version,
        "owning_team_id": request_type.owning_team_id,
        "inactivity_days": request_type.inactivity_days,
        "deny_reason_required": request_type.deny_reason_required,
        "resource": resource,
        "steps": [
            step_snapshot(step) for step in sorted(steps, key=lambda s: (s.position, s.pk or 0))
        ],
    }


def step_snapshot(step: Step) -> dict[str, Any]:
    """One step as plain data: its kind, condition and the fields its kind uses."""
    data: dict[str, Any] = {"kind": step.kind, "position": step.position}
    data["condition"] = (
        {
            "key": step.condition_key,
            "operator": step.condition_operator,
            "value": step.condition_value,
        }
        if step.condition_key
        else None
    )
    for field in STEP_FIELDS[step.kind]:
        data[field.removesuffix("_id") if field.endswith("_id") else field] = getattr(step, field)
    if step.kind == StepKind.QUESTION and step.question_type == QuestionType.OPTIONS:
        data["choices"] = parse_options(step.options)
    if step.kind == StepKind.ACTION and step.action_kind == ActionKind.RUN_DELEGATED_FLOW:
        data.update(_flow_snapshot(step))
    return data


def _flow_snapshot(step: Step) -> dict[str, Any]:
    """The flow's name and its declared input types as they were when the request started."""
    flow = step.flow if step.flow_id else None
    version = flow.current_version if flow is not None and flow.current_version_id else None
    return {
        "flow_name": str(flow) if flow is not None else "",
        "flow_version": version.number if version is not None else None,
        "flow_input_types": {
            spec["name"]: spec["type"] for spec in (version.inputs if version else [])
        },
    }


# --- Conditions and answers -----------------------------------------------------------------


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def condition_holds(step: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
    """Whether a step's condition (if any) holds for these answers."""
    condition = step.get("condition")
    if not condition:
        return True
    value = answers.get(condition["key"])
    operator = condition["operator"]
    expected = (condition.get("value") or "").strip().lower()
    if isinstance(value, bool) and expected in ("yes", "no"):
        # "yes" and "no" stand for a yes/no answer; an option may be called "yes" too.
        expected = "true" if expected == "yes" else "false"
    if operator == ConditionOperator.EQUALS:
        return _as_text(value).lower() == expected
    if operator == ConditionOperator.NOT_EQUALS:
        return _as_text(value).lower() != expected
    if operator == ConditionOperator.IS_TRUE:
        return value is True
    if operator == ConditionOperator.IS_FALSE:
        return value is False
    if operator == ConditionOperator.IS_SET:
        return value not in (None, "")
    return False


def questions_asked(snapshot_steps: list[dict], answers: Mapping[str, Any]) -> list[dict]:
    """The questions that apply given the answers so far (conditions on earlier answers)."""
    return [
        step
        for step in snapshot_steps
        if step["kind"] == StepKind.QUESTION and condition_holds(step, answers)
    ]


def clean_answers(snapshot_data: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Typed answers for the questions that apply, or ValidationError naming each bad field.

    Answers to questions that do not apply (their condition fails) are dropped; answers to
    questions the type does not have are refused.
    """
    steps = snapshot_data["steps"]
    known = {step["key"] for step in steps if step["kind"] == StepKind.QUESTION}
    errors: dict[str, list[str]] = {
        key: ["This request type has no such question."] for key in raw if key not in known
    }
    end_date_keys = {
        step["end_date_key"]
        for step in steps
        if step["kind"] == StepKind.ACTION and step.get("end_date_key")
    }
    answers: dict[str, Any] = {}
    for step in steps:
        if step["kind"] != StepKind.QUESTION or not condition_holds(step, answers):
            continue
        key = step["key"]
        value = raw.get(key)
        if value in (None, "") or (isinstance(value, str) and not value.strip()):
            if step["required"]:
                errors[key] = ["This question needs an answer."]
            continue
        try:
            answers[key] = coerce_answer(step, value)
            if key in end_date_keys:
                _check_in_future(step, answers[key])
            elif step.get("future_only"):
                _check_in_future(step, answers[key], message=FUTURE_ONLY_MESSAGE)
        except ValidationError as error:
            errors[key] = error.messages
    if errors:
        raise ValidationError(errors)
    return answers


def coerce_answer(step: Mapping[str, Any], value: Any) -> Any:
    """One answer in its stored, JSON-safe form, or ValidationError saying what was expected."""
    question_type = step["question_type"]
    if question_type in TEXT_LIMITS:
        if isinstance(value, (dict, list)):
            raise ValidationError("Expected text.")
        text = str(value).strip()
        if len(text) > TEXT_LIMITS[question_type]:
            raise ValidationError(f"At most {TEXT_LIMITS[question_type]} characters.")
        return text
    if question_type == QuestionType.NUMBER:
        return coerce_attribute_value("number", value)
    if question_type == QuestionType.BOOLEAN:
        return coerce_attribute_value("boolean", value)
    if question_type == QuestionType.DATETIME:
        return coerce_attribute_value("datetime", value)
    if question_type == QuestionType.DATE:
        return _coerce_date(value).isoformat()
    if question_type == QuestionType.OPTIONS:
        values = {choice["value"] for choice in step.get("choices", [])}
        if str(value) not in values:
            raise ValidationError(f"Choose one of: {', '.join(sorted(values))}.")
        return str(value)
    if question_type == QuestionType.LIST_CHOICE:
        from apps.catalog.models import ConfigListItem

        if not ConfigListItem.objects.filter(
            config_list_id=step["config_list"], value=str(value), active=True
        ).exists():
            raise ValidationError(f"{value!r} is not an available choice.")
        return str(value)
    if question_type == QuestionType.USER:
        from apps.directory.models import User, UserStatus

        if isinstance(value, bool) or not str(value).isdigit():
            raise ValidationError("Expected the id of a person.")
        if not User.objects.filter(pk=int(value), status=UserStatus.ACTIVE).exists():
            raise ValidationError("No active person with this id.")
        return int(value)
    raise ValidationError(f"Unknown question type {question_type!r}.")


def _coerce_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        parsed = parse_date(str(value).strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationError(f"Expected a date as YYYY-MM-DD, got {value!r}.")
    return parsed


def _check_in_future(
    step: Mapping[str, Any], stored: str, *, message: str = "The end date must be in the future."
) -> None:
    if end_of_answer(step["question_type"], stored) <= timezone.now():
        raise ValidationError(message)


def end_of_answer(question_type: str, stored: str) -> dt.datetime:
    """The moment access ends for an end-date answer: a date means the end of that day."""
    if question_type == QuestionType.DATE:
        day = dt.date.fromisoformat(stored) + dt.timedelta(days=1)
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return dt.datetime.fromisoformat(stored)


def answer_labels(snapshot_data: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, str]:
    """How the choice and person answers read (labels, names), frozen with the request.

    Lists and people may change later; the request keeps what the requester saw.
    """
    from apps.catalog.models import ConfigListItem
    from apps.directory.models import User

    questions = {
        step["key"]: step
        for step in snapshot_data["steps"]
        if step["kind"] == StepKind.QUESTION and step["key"] in answers
    }
    labels: dict[str, str] = {}
    list_answers = {
        key: step
        for key, step in questions.items()
        if step["question_type"] == QuestionType.LIST_CHOICE
    }
    if list_answers:
        items = ConfigListItem.objects.filter(
            config_list_id__in={step["config_list"] for step in list_answers.values()},
            value__in={str(answers[key]) for key in list_answers},
        ).values_list("config_list_id", "value", "label")
        by_list = {(list_id, value): label for list_id, value, label in items}
        for key, step in list_answers.items():
            labels[key] = by_list.get((step["config_list"], answers[key]), str(answers[key]))
    people_keys = [k for k, s in questions.items() if s["question_type"] == QuestionType.USER]
    if people_keys:
        people = User.objects.in_bulk([answers[key] for key in people_keys])
        for key in people_keys:
            person = people.get(answers[key])
            labels[key] = str(person) if person else str(answers[key])
    for key, step in questions.items():
        if step["question_type"] == QuestionType.OPTIONS:
            choices = {c["value"]: c["label"] for c in step.get("choices", [])}
            labels[key] = choices.get(answers[key], str(answers[key]))
    return labels
