"""Attach a correlation id and the client address to every event a web request writes."""

import re

from apps.audit.context import correlation

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class AuditContextMiddleware:
    """Reuse a well-formed X-Request-ID from the proxy, else make one; echo it in the answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else None
        with correlation(request_id, request.META.get("REMOTE_ADDR")) as correlation_id:
            request.correlation_id = correlation_id
            response = self.get_response(request)
        response.headers.setdefault("X-Request-ID", correlation_id)
        return response
