"""Small template helpers of the portal: status badges."""

from django import template
from django.utils.html import format_html

register = template.Library()

# Status values of requests, approvals, tasks, grants and delegations → badge colour.
TONES = {
    "pending": "amber",
    "open": "amber",
    "approved": "blue",
    "upcoming": "blue",
    "closed": "green",
    "completed": "green",
    "active": "green",
    "denied": "red",
    "canceled": "grey",
    "expired": "grey",
    "superseded": "grey",
    "revoked": "grey",
    "ended": "grey",
}


@register.simple_tag
def badge(status: str, label: str = "") -> str:
    """A coloured pill for a status value, showing `label` (or the value)."""
    return format_html(
        '<span class="badge badge-{}">{}</span>',
        TONES.get(str(status), "grey"),
        label or str(status).replace("_", " ").capitalize(),
    )
