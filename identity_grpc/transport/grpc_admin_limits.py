"""The RegisteredLimits and Limits admin services: unified limits."""

from google.protobuf.empty_pb2 import Empty
from identity_api.admin.v1 import limits_pb2 as lpb
from identity_api.admin.v1 import limits_pb2_grpc as lgrpc

from ..operations import Operations
from . import grpc_admin_messages as msg
from .grpc_interceptor import current_caller


def registered_limit(entry) -> lpb.RegisteredLimit:
    return lpb.RegisteredLimit(id=entry.id, service_id=entry.service_id,
                               region_id=entry.region_id or "", resource_name=entry.resource_name,
                               default_limit=entry.default_limit,
                               description=entry.description or "")


def limit(entry) -> lpb.Limit:
    return lpb.Limit(id=entry.id, project_id=entry.project_id or "",
                     domain_id=entry.domain_id or "", service_id=entry.service_id,
                     region_id=entry.region_id or "", resource_name=entry.resource_name,
                     resource_limit=entry.resource_limit, description=entry.description or "")


def _spec(message, names: tuple[str, ...]) -> dict:
    """A spec message as the manager's item: empty strings are absent (None)."""
    return {name: getattr(message, name) or None for name in names}


def _page(request) -> dict:
    return {"page_size": request.page_size, "page_token": request.page_token}


class RegisteredLimitsServicer(lgrpc.RegisteredLimitsServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.registered_limits

    def CreateRegisteredLimits(self, request, context):
        items = [{**_spec(s, ("service_id", "region_id", "resource_name", "description")),
                  "default_limit": s.default_limit} for s in request.registered_limits]
        rows = self._ops.create(current_caller(), items)
        return lpb.RegisteredLimitList(registered_limits=[registered_limit(r) for r in rows])

    def GetRegisteredLimit(self, request, context):
        return registered_limit(self._ops.get(current_caller(), request.id))

    def ListRegisteredLimits(self, request, context):
        rows, token = self._ops.list(current_caller(), service_id=request.service_id,
                                     region_id=request.region_id,
                                     resource_name=request.resource_name, **_page(request))
        return lpb.RegisteredLimitList(registered_limits=[registered_limit(r) for r in rows],
                                       next_page_token=token)

    def UpdateRegisteredLimit(self, request, context):
        changes = msg.set_fields(request, ("service_id", "region_id", "resource_name",
                                           "default_limit", "description"))
        if "region_id" in changes:
            changes["region_id"] = changes["region_id"] or None
        return registered_limit(self._ops.update(current_caller(), request.id, **changes))

    def DeleteRegisteredLimit(self, request, context):
        self._ops.delete(current_caller(), request.id)
        return Empty()


class LimitsServicer(lgrpc.LimitsServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.limits

    def CreateLimits(self, request, context):
        names = ("project_id", "domain_id", "service_id", "region_id", "resource_name",
                 "description")
        items = [{**_spec(s, names), "resource_limit": s.resource_limit} for s in request.limits]
        return lpb.LimitList(limits=[limit(r) for r in self._ops.create(current_caller(), items)])

    def GetLimit(self, request, context):
        return limit(self._ops.get(current_caller(), request.id))

    def ListLimits(self, request, context):
        rows, token = self._ops.list(current_caller(), service_id=request.service_id,
                                     region_id=request.region_id,
                                     resource_name=request.resource_name,
                                     project_id=request.project_id, domain_id=request.domain_id,
                                     **_page(request))
        return lpb.LimitList(limits=[limit(r) for r in rows], next_page_token=token)

    def UpdateLimit(self, request, context):
        changes = msg.set_fields(request, ("resource_limit", "description"))
        return limit(self._ops.update(current_caller(), request.id, **changes))

    def DeleteLimit(self, request, context):
        self._ops.delete(current_caller(), request.id)
        return Empty()

    def GetLimitModel(self, request, context):
        return lpb.LimitModel(**self._ops.model(current_caller()))
