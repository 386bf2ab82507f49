"""Probes: `/healthcheck` (oslo.middleware's healthcheck, as Keystone serves it) and
`/healthz/live`, `/healthz/ready` (Kubernetes' probes). No token; the answer is the
core's (`health.Health`), read from memory, never a query per probe (docs/health.md).

`/healthcheck` answers like oslo.middleware's: `200 OK` in plain text, or 503 with the
reasons, one a line; with `Accept: application/json` its detailed JSON, `reasons` a
list of `{"reason", "details", "class"}` (no thread stacks: an unauthenticated caller
reads it); HEAD is 204 when healthy, 503 otherwise, without a body.
`/healthz/ready` is 200 or 503 with `{"status", "failed", "checks"}`: which check
failed and why. `/healthz/live` is 200 while the process serves.
"""

from datetime import datetime, timezone

from werkzeug.wrappers import Request, Response

from .wsgi import Context, json_response

NO_STORE = {"Cache-Control": "no-store"}  # a probe's answer is true only now


def _checks(readiness) -> dict:
    return {check.name: {"ok": check.ok, "detail": check.detail} for check in readiness.checks}


def live(ctx: Context, request: Request) -> Response:
    return json_response({"status": "live"}, headers=NO_STORE)


def ready(ctx: Context, request: Request) -> Response:
    readiness = ctx.ops.health.readiness()
    body = {"status": "ready" if readiness.ready else "not ready",
            "failed": readiness.failed, "checks": _checks(readiness)}
    return json_response(body, status=200 if readiness.ready else 503, headers=NO_STORE)


def healthcheck(ctx: Context, request: Request) -> Response:
    readiness = ctx.ops.health.readiness()
    status = 200 if readiness.ready else 503
    failing = [check for check in readiness.checks if not check.ok]
    if request.method == "HEAD":
        return Response(status=204 if readiness.ready else 503, headers=NO_STORE,
                        content_type="text/plain")
    if request.accept_mimetypes.best_match(["text/plain", "application/json"]) \
            == "application/json":
        reasons = [{"reason": "OK" if check.ok else f"{check.name}: {check.detail}",
                    "details": check.detail, "class": f"{check.name.capitalize()}Check"}
                   for check in readiness.checks]
        return json_response({"detailed": True, "reasons": reasons,
                              "now": str(datetime.now(timezone.utc).replace(tzinfo=None))},
                             status=status, headers=NO_STORE)
    text = "\n".join(f"{check.name}: {check.detail}" for check in failing) or "OK"
    return Response(text, status=status, headers=NO_STORE, content_type="text/plain")


ROUTES = [("GET", "/healthcheck", healthcheck), ("GET", "/healthz/live", live),
          ("GET", "/healthz/ready", ready)]
