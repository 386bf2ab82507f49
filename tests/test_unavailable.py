"""errors.Unavailable (an outside dependency such as a domain's LDAP directory that
cannot be reached) is UNAVAILABLE on gRPC and 503 on the HTTP gateway."""

import grpc

from identity_grpc import errors
from identity_grpc.gateway import wsgi
from identity_grpc.transport import grpc_interceptor


def test_unavailable_is_grpc_unavailable_and_http_503():
    assert grpc_interceptor.STATUS_FOR[errors.Unavailable] is grpc.StatusCode.UNAVAILABLE
    assert wsgi.STATUS_FOR[errors.Unavailable] == 503
    assert 503 in wsgi.TITLES
