"""Routes of the Helicone-style REST API for the dashboard's data (all org-scoped by the caller's gateway key)."""

from __future__ import annotations

from starlette.routing import Route

from . import annotations as request_notes
from . import sessions, users


def insight_routes() -> list[Route]:
    return [
        Route("/v1/request/count/query", request_notes.count_query, methods=["POST"]),
        Route("/v1/request/{request_id}/feedback", request_notes.feedback, methods=["POST"]),
        Route("/v1/request/{request_id}/score", request_notes.score, methods=["POST"]),
        Route("/v1/request/{request_id}/property", request_notes.put_property, methods=["PUT"]),
        Route("/v1/session/query", sessions.query_sessions, methods=["POST"]),
        Route("/v1/session/metrics/query", sessions.session_metrics, methods=["POST"]),
        Route("/v1/session/{session_id:path}", sessions.get_session, methods=["GET"]),
        Route("/v1/user/query", users.query_users, methods=["POST"]),
        Route("/v1/user/metrics/query", users.user_metrics, methods=["POST"]),
    ]
