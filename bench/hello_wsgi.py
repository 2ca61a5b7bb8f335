"""The floor under every HTTP benchmark: a bare WSGI app that answers what the ping endpoint answers.

Served by the same gunicorn, with the same settings and the same load as the project, it measures what
gunicorn, the sockets and the client cost on their own; the project's ratio to it is what Django adds.
"""

from wsgiref.types import StartResponse, WSGIEnvironment

# The same body as GET /api/v1/ping/, so both servers send the same bytes.
BODY = b'{"pong":true}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def application(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", HEADERS)
    return [BODY]
