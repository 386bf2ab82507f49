"""The DomainConfigs admin service: a domain's configuration, as a Struct."""

from google.protobuf import json_format
from google.protobuf.empty_pb2 import Empty
from google.protobuf.struct_pb2 import Struct
from identity_api.admin.v1 import domain_config_pb2 as dpb
from identity_api.admin.v1 import domain_config_pb2_grpc as dgrpc

from ..errors import InvalidArgument
from ..operations import Operations
from .grpc_interceptor import current_caller


def _whole(value):
    """A Struct's numbers are doubles: the whole ones are the integers they were."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


def config_of(request) -> dict:
    return _whole(json_format.MessageToDict(request.config))


def struct(config: dict) -> Struct:
    message = Struct()
    message.update(config)
    return message


class DomainConfigsServicer(dgrpc.DomainConfigsServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.domain_config

    def CreateDomainConfig(self, request, context):
        config, created = self._ops.create(current_caller(), request.domain_id, config_of(request))
        return dpb.CreateDomainConfigResponse(config=struct(config), created=created)

    def GetDomainConfig(self, request, context):
        _needs_group(request)
        return dpb.DomainConfig(config=struct(self._ops.get(
            current_caller(), request.domain_id, request.group, request.option)))

    def UpdateDomainConfig(self, request, context):
        _needs_group(request)
        return dpb.DomainConfig(config=struct(self._ops.update(
            current_caller(), request.domain_id, config_of(request), request.group,
            request.option)))

    def DeleteDomainConfig(self, request, context):
        _needs_group(request)
        self._ops.delete(current_caller(), request.domain_id, request.group, request.option)
        return Empty()

    def GetDomainConfigDefault(self, request, context):
        _needs_group(request)
        return dpb.DomainConfig(config=struct(self._ops.defaults(
            current_caller(), request.group, request.option)))


def _needs_group(request) -> None:
    if request.option and not request.group:
        raise InvalidArgument("group", "an option is named within its group")
