"""The Audit servicer: `WatchAuditEvents` as messages. The interceptor
authenticates the caller again before each message, maps errors and logs; the
operation decides the rest (the rule, the replay, what a slow watcher loses)."""

from identity_api.admin.v1 import audit_pb2 as pb
from identity_api.admin.v1 import audit_pb2_grpc as pb_grpc

from ..operations import Operations
from .grpc_interceptor import current_caller

MAX_EVENTS_PER_MESSAGE = 500  # a few hundred KB at most, far under any message limit


class AuditServicer(pb_grpc.AuditServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.audit

    def WatchAuditEvents(self, request, context):
        watch = self._ops.watch(current_caller(), request.replay)
        context.add_callback(watch.close)  # wakes the loop when the call ends
        try:
            yield pb.WatchAuditEventsResponse(keepalive_interval=watch.keepalive)
            yield from _messages(watch.recent, 0)
            while context.is_active():
                taken = watch.next(current_caller())
                if taken is None:
                    break
                events, dropped = taken
                if events or dropped:
                    yield from _messages(events, dropped)
                else:
                    yield pb.WatchAuditEventsResponse()  # a keepalive
        finally:
            watch.close()


def _messages(items: list, dropped: int):
    for start in range(0, len(items), MAX_EVENTS_PER_MESSAGE):
        yield pb.WatchAuditEventsResponse(
            events=[_event(e, line) for e, line in items[start:start + MAX_EVENTS_PER_MESSAGE]],
            dropped_events=dropped if start == 0 else 0)
    if dropped and not items:
        yield pb.WatchAuditEventsResponse(dropped_events=dropped)


def _event(event: dict, line: str) -> pb.AuditEvent:
    return pb.AuditEvent(
        id=event["id"], event_time=event["eventTime"], action=event["action"],
        outcome=event["outcome"], initiator_id=event["initiator"]["id"],
        target_type=event["target"]["typeURI"], target_id=event["target"]["id"],
        request_id=event["requestId"], address=event["initiator"]["host"]["address"],
        cadf=line)
