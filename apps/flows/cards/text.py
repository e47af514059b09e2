"""Text cards: compose, join, split, replace, change case, trim, match a pattern, measure.

Regular expressions are bounded (pattern and text length), compiled once and cached, and a
pattern with a repeated group of repeats (the classic `(a+)+` that can take forever on a
near-miss) is refused before it runs.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import secrets
import string
from functools import lru_cache

from django.core.serializers.json import DjangoJSONEncoder

from apps.flows.cards.support import MISSING, describe, lookup, parse_path, whole_number
from apps.flows.errors import CardError
from apps.flows.expressions import MAX_RENDERED_TEXT
from apps.flows.registry import Field, card
from apps.flows.types import BOOLEAN, LIST, NUMBER, OBJECT, TEXT, TypeMismatch, coerce

try:  # the parser re.compile uses; private, so the safety check is skipped if it moves
    from re import _constants as _sre
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover
    _sre = _sre_parse = None

CATEGORY = "Text"
MAX_PATTERN = 500
MAX_TEXT = 100_000  # text a regular expression runs over
MAX_RESULT = MAX_RENDERED_TEXT


class _BadPattern(ValueError):
    """A pattern refused at compile time; the card adds which input it came from."""


def _shape(subpattern) -> tuple[bool, bool]:
    """(made only of repeated parts, has an unbounded repeat) for a parsed subpattern."""
    only_repeats, unbounded = True, False
    for op, av in subpattern:
        if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
            unbounded = unbounded or av[1] == _sre.MAXREPEAT
        elif op is _sre.SUBPATTERN:
            inner_only, inner_unbounded = _shape(av[-1])
            only_repeats, unbounded = only_repeats and inner_only, unbounded or inner_unbounded
        elif op is _sre.BRANCH:
            if any(_shape(alternative) == (True, True) for alternative in av[1]):
                unbounded = True
            else:
                only_repeats = False
        elif op is not _sre.AT:  # anchors match no text; anything else is a required part
            only_repeats = False
    return only_repeats, unbounded


def _nested_repeat(subpattern) -> bool:
    """Whether an unbounded repeat holds a body made only of repeats, one unbounded."""
    for op, av in subpattern:
        children = []
        if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
            if av[1] == _sre.MAXREPEAT and _shape(av[2]) == (True, True):
                return True
            children = [av[2]]
        elif op is _sre.SUBPATTERN:
            children = [av[-1]]
        elif op is _sre.BRANCH:
            children = av[1]
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            children = [av[1]]
        if any(_nested_repeat(child) for child in children):
            return True
    return False


@lru_cache(maxsize=512)
def _compile(pattern: str, flags: int) -> re.Pattern:
    if len(pattern) > MAX_PATTERN:
        raise _BadPattern(f"the pattern is over {MAX_PATTERN} characters")
    try:
        compiled = re.compile(pattern, flags)
        if _sre_parse is not None and _nested_repeat(_sre_parse.parse(pattern, flags)):
            raise _BadPattern(
                "the pattern repeats a group that itself repeats (like (a+)+), which can "
                "take forever; rewrite it without the nested repetition"
            )
    except re.error as error:
        raise _BadPattern(f"not a valid regular expression: {error}") from None
    return compiled


def compiled(name: str, pattern: str, *, ignore_case: bool = False) -> re.Pattern:
    """The cached compiled pattern, or CardError naming the input."""
    try:
        return _compile(pattern, re.IGNORECASE if ignore_case else 0)
    except _BadPattern as error:
        raise CardError(f"input '{name}': {error}") from None


def _bounded(name: str, text: str) -> str:
    if len(text) > MAX_TEXT:
        raise CardError(f"input '{name}' is over {MAX_TEXT} characters (the limit for patterns)")
    return text


def _as_text(name: str, value) -> str:
    try:
        return "" if value is None else coerce(TEXT, value)
    except TypeMismatch:
        raise CardError(f"{name} is {describe(value)}, not text") from None


@card(
    "text.compose",
    "Compose",
    CATEGORY,
    inputs=[Field("template", TEXT, description="text with {{ references }} to earlier values")],
    outputs=[Field("text", TEXT)],
    idempotent=True,
)
def compose(context, *, template):
    """Builds a text from a template such as `Hello {{ read_user.first_name }}`. The engine
    renders every `{{ }}` reference in a card's inputs before the card runs, so this card simply
    gives back the rendered text: its use is to name a composed text once and refer to it as
    `{{ compose.text }}` from later cards. A template that is a single reference to a number,
    date or true/false becomes its text; one to a list or an object is refused (write
    `{{ value | tojson }}` to embed it as JSON)."""
    return {"text": template}


@card(
    "text.concatenate",
    "Concatenate",
    CATEGORY,
    inputs=[
        Field("parts", LIST, description="texts, numbers, dates or true/false; null counts as ''"),
        Field("separator", TEXT, required=False, default="", description="put between parts"),
    ],
    outputs=[Field("text", TEXT)],
    idempotent=True,
)
def concatenate(context, *, parts, separator):
    """Joins a list of parts into one text, with an optional separator between them (nothing
    by default). Numbers, dates and true/false become their text and empty (null) parts become
    empty text; a part that is a list or an object is refused, naming its position."""
    pieces = [_as_text(f"input 'parts', item {i}", part) for i, part in enumerate(parts)]
    return {"text": (separator or "").join(pieces)}


@card(
    "text.split",
    "Split",
    CATEGORY,
    inputs=[
        Field("text", TEXT),
        Field("separator", TEXT, required=False, description="empty: any run of whitespace"),
        Field("max_parts", NUMBER, required=False, description="the last part keeps the rest"),
    ],
    outputs=[Field("parts", LIST), Field("count", NUMBER)],
    idempotent=True,
)
def split(context, *, text, separator, max_parts):
    """Splits a text at each occurrence of the separator and gives the list of parts and their
    count. With no separator (or an empty one) it splits at runs of spaces, tabs and line breaks
    and drops empty parts. With `max_parts`, splitting stops once there are that many parts:
    the last part keeps the rest of the text unsplit."""
    limit = -1 if max_parts is None else whole_number("max_parts", max_parts, minimum=1) - 1
    parts = text.split(separator or None, limit)
    return {"parts": parts, "count": len(parts)}


@card(
    "text.replace",
    "Replace",
    CATEGORY,
    inputs=[
        Field("text", TEXT),
        Field("find", TEXT, description="the text (or the pattern, with regex) to replace"),
        Field("replace_with", TEXT, required=False, default="", description="empty: remove"),
        Field("regex", BOOLEAN, required=False, default=False, description="find is a pattern"),
        Field("ignore_case", BOOLEAN, required=False, default=False),
    ],
    outputs=[Field("text", TEXT), Field("count", NUMBER, description="replacements made")],
    idempotent=True,
)
def replace(context, *, text, find, replace_with, regex, ignore_case):
    """Replaces every occurrence of `find` in the text with `replace_with` (nothing, by
    default) and tells how many were replaced. With `regex` on, `find` is a regular expression
    (at most 500 characters, over a text of at most 100,000) and `replace_with` may use the
    groups it captured as `\\1` or `\\g<name>`. The result may not grow past 1,000,000
    characters."""
    if not find:
        raise CardError("input 'find' is empty: there is nothing to look for")
    replace_with = replace_with or ""
    if not regex and not ignore_case:
        count = text.count(find)
        if len(text) + count * (len(replace_with) - len(find)) > MAX_RESULT:
            raise CardError(f"the result would be over {MAX_RESULT} characters")
        return {"text": text.replace(find, replace_with), "count": count}
    pattern = compiled("find", find if regex else re.escape(find), ignore_case=bool(ignore_case))
    _bounded("text", text)
    literal = not regex or "\\" not in replace_with
    budget = MAX_RESULT - len(text)

    def substitute(match: re.Match) -> str:
        nonlocal budget
        piece = replace_with if literal else match.expand(replace_with)
        budget -= len(piece) - (match.end() - match.start())
        if budget < 0:
            raise CardError(f"the result would be over {MAX_RESULT} characters")
        return piece

    try:
        result, count = pattern.subn(substitute, text)
    except (re.error, IndexError) as error:
        raise CardError(f"input 'replace_with': {error}") from None
    return {"text": result, "count": count}


@card(
    "text.upper",
    "Upper case",
    CATEGORY,
    inputs=[Field("text", TEXT)],
    outputs=[Field("text", TEXT)],
    idempotent=True,
)
def upper(context, *, text):
    """Gives the text in capital letters ("Ana Lima" becomes "ANA LIMA")."""
    return {"text": text.upper()}


@card(
    "text.lower",
    "Lower case",
    CATEGORY,
    inputs=[Field("text", TEXT)],
    outputs=[Field("text", TEXT)],
    idempotent=True,
)
def lower(context, *, text):
    """Gives the text in small letters ("Ana.Lima@Example.COM" becomes "ana.lima@example.com"),
    the usual first step before comparing e-mail addresses or user names."""
    return {"text": text.lower()}


@card(
    "text.trim",
    "Trim",
    CATEGORY,
    inputs=[
        Field("text", TEXT),
        Field("characters", TEXT, required=False, description="empty: whitespace"),
    ],
    outputs=[Field("text", TEXT)],
    idempotent=True,
)
def trim(context, *, text, characters):
    """Removes spaces, tabs and line breaks from both ends of the text; or, when `characters`
    is given, any of those characters (e.g. "/" to strip slashes from both ends of a path)."""
    return {"text": text.strip(characters or None)}


@card(
    "text.match",
    "Match pattern",
    CATEGORY,
    inputs=[
        Field("text", TEXT, description=f"at most {MAX_TEXT} characters"),
        Field("pattern", TEXT, description=f"a regular expression, at most {MAX_PATTERN} chars"),
        Field("ignore_case", BOOLEAN, required=False, default=False),
    ],
    outputs=[
        Field("matched", BOOLEAN),
        Field("match", TEXT, required=False, description="the matched text, or null"),
        Field("groups", LIST, description="the numbered groups (null for one that took no part)"),
        Field("named", OBJECT, description="the named groups, (?P<name>...)"),
    ],
    idempotent=True,
)
def match(context, *, text, pattern, ignore_case):
    """Looks for a regular expression anywhere in the text (anchor it with `^` and `$` to match
    the whole text) and gives whether it matched, the matched text, the captured groups as a
    list and the named groups as an object; with no match, the groups are empty. The pattern
    may be up to 500 characters and the text up to 100,000; a pattern that does not compile is
    refused with the reason, as is one that repeats a group of repeats like `(a+)+`."""
    found = compiled("pattern", pattern, ignore_case=bool(ignore_case)).search(
        _bounded("text", text)
    )
    if found is None:
        return {"matched": False, "match": None, "groups": [], "named": {}}
    return {
        "matched": True,
        "match": found.group(0),
        "groups": list(found.groups()),
        "named": found.groupdict(),
    }


@card(
    "text.length",
    "Length",
    CATEGORY,
    inputs=[Field("text", TEXT)],
    outputs=[Field("length", NUMBER)],
    idempotent=True,
)
def length(context, *, text):
    """Gives the number of characters in the text (an empty text has length 0)."""
    return {"length": len(text)}


# --- Generated and tabular text -------------------------------------------------------------

PASSWORD_LENGTHS = (12, 128)
PASSWORD_SYMBOLS = "!#$%&*+-=?@^_"
_PASSWORD_CLASSES = (
    string.ascii_lowercase,
    string.ascii_uppercase,
    string.digits,
    PASSWORD_SYMBOLS,
)
MAX_CSV_ROWS = 10_000


@card(
    "text.random_password",
    "Random password",
    CATEGORY,
    inputs=[
        Field(
            "length",
            NUMBER,
            required=False,
            default=20,
            description=f"between {PASSWORD_LENGTHS[0]} and {PASSWORD_LENGTHS[1]} characters",
        ),
    ],
    outputs=[Field("password", TEXT)],
    # Running it again only draws another password: nothing outside the run has changed.
    idempotent=True,
)
def random_password(context, *, length):
    """A random temporary password (the `secrets` module) with lower- and upper-case letters,
    digits and symbols, at least one of each. Runs that keep history keep it in their outputs:
    hand it on at once and have it changed at first sign-in."""
    length = whole_number("length", length)
    low, high = PASSWORD_LENGTHS
    if not low <= length <= high:
        raise CardError(f"input 'length' must be between {low} and {high}, got {length}")
    alphabet = "".join(_PASSWORD_CLASSES)
    characters = [secrets.choice(chars) for chars in _PASSWORD_CLASSES]  # one of each kind
    characters += [secrets.choice(alphabet) for _ in range(length - len(characters))]
    secrets.SystemRandom().shuffle(characters)
    return {"password": "".join(characters)}


# A spreadsheet reads a cell starting with one of these as a formula (CSV injection): such a
# text is written with a leading apostrophe, as OWASP advises, unless `formulas` allows them.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value, *, formulas: bool) -> str:
    if isinstance(value, str):
        return f"'{value}" if not formulas and value.startswith(_FORMULA_STARTS) else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, cls=DjangoJSONEncoder)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


@card(
    "text.to_csv",
    "List to CSV",
    CATEGORY,
    inputs=[
        Field("list", LIST, description="objects (one row each)"),
        Field(
            "columns",
            LIST,
            required=False,
            description="field paths like a.b, in order; empty: the first object's keys",
        ),
        Field("header", BOOLEAN, required=False, default=True, description="a header row first"),
        Field(
            "formulas",
            BOOLEAN,
            required=False,
            default=False,
            description="keep texts starting with = + - @ as they are (else prefixed with ')",
        ),
    ],
    outputs=[Field("text", TEXT), Field("rows", NUMBER, description="rows, not the header")],
    idempotent=True,
)
def to_csv(context, *, list, columns, header, formulas):
    """Writes a list of objects as CSV text (RFC 4180, comma-separated, CRLF line ends), one
    row per object, a column per field path; missing fields are empty cells, objects and lists
    are written as JSON, and a text a spreadsheet would take for a formula starts with '."""
    if len(list) > MAX_CSV_ROWS:
        raise CardError(f"{len(list)} rows: at most {MAX_CSV_ROWS}")
    if not all(isinstance(item, dict) for item in list):
        raise CardError("input 'list' must hold objects only")
    if columns:
        names = [str(column) for column in columns]
    else:
        names = [str(key) for key in list[0]] if list else []
    paths = [parse_path("columns", name) for name in names]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow([_csv_cell(name, formulas=formulas) for name in names])
    for item in list:
        cells = []
        for segments in paths:
            found = lookup(item, segments)
            cells.append("" if found is MISSING else _csv_cell(found, formulas=formulas))
        writer.writerow(cells)
    text = buffer.getvalue()
    if len(text) > MAX_RESULT:
        raise CardError(f"the CSV text is over {MAX_RESULT} characters")
    return {"text": text, "rows": len(list)}
