"""The standard gRPC health service (grpc.health.v1) following the core's readiness.

SERVING while `health.Health` says ready, NOT_SERVING while it does not (the store
down, no usable key); Watch subscribers hear each change. Once the server drains for
shutdown every service is NOT_SERVING for good (`enter_graceful_shutdown`: nothing
turns it back).
"""

from grpc_health.v1 import health_pb2

from ..health import Health


def follow(health: Health, servicer, names) -> None:
    """Keep `servicer`'s status of each of `names` the one `health` decides."""
    def publish(ready: bool) -> None:
        if health.draining:
            servicer.enter_graceful_shutdown()
            return
        status = (health_pb2.HealthCheckResponse.SERVING if ready
                  else health_pb2.HealthCheckResponse.NOT_SERVING)
        for name in names:
            servicer.set(name, status)
    health.on_change(publish)
