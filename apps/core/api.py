"""API building blocks shared by the apps: query parameters taken strictly.

A page number, a cursor or a filter is either well formed or refused: an empty value, one
given twice, or `page=1.5` is an error answer, never silently read as something else.
"""

from __future__ import annotations

from typing import Any

from rest_framework import pagination, serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request


def validated_query(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    """The query parameters `serializer_class` declares, validated (400 naming each bad one).

    An empty value is a value (refused unless the field allows blanks), not an absent one, and
    a parameter given twice is refused rather than one of its values picked.
    """
    serializer = serializer_class(data=request.query_params.dict())
    repeated = {
        name: ["Give this parameter once."]
        for name in serializer.fields
        if len(request.query_params.getlist(name)) > 1
    }
    if repeated:
        raise serializers.ValidationError(repeated)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=N`, N a whole number from 1 to the last page; anything else is a 404."""

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        values = request.query_params.getlist(self.page_query_param)
        if not values:
            return 1
        number = values[0]
        if len(values) > 1 or not (number.isascii() and number.isdigit()):
            raise NotFound(self.invalid_page_message.format(page_number=number, message=""))
        return number


class CursorPagination(pagination.CursorPagination):
    """`?cursor=` as a `next` or `previous` link gave it; an empty, repeated or meaningless
    cursor is a 404 (DRF would read one that decodes to nothing as the first page)."""

    def decode_cursor(self, request: Request) -> Any:
        values = request.query_params.getlist(self.cursor_query_param)
        if not values:
            return None
        cursor = super().decode_cursor(request) if len(values) == 1 else None
        if cursor is None or cursor == pagination.Cursor(offset=0, reverse=False, position=None):
            raise NotFound(self.invalid_cursor_message)
        return cursor
