"""What an audit event says, in the shape of Keystone's CADF notifications.

Recording an event on the calling thread is cheap (`Fact`: a few references to
immutable records, no formatting); `cadf_event` turns a fact into the event's
JSON object later, on the audit trail's own thread.

An event names who (the caller's user, its domain and the token's scope; for a
failed authentication the user the credentials claimed), what (`action`:
`authenticate`, `created.user`, `deleted.project`, `created.role_assignment`...),
on which target, the outcome, when, the request id and the client's address and
agent. It never holds a password, token, secret, credential blob or key: facts are
built from ids and names only (`Claimed` and `TokenInfo`'s identity), never from
what a request carried as proof.
"""

import datetime
import os
import socket
import uuid
from dataclasses import dataclass

from ..records import TokenInfo
from .origin import OriginFacts

EVENT_TYPE_URI = "http://schemas.dmtf.org/cloud/audit/1.0/event"
USER_TYPE_URI = "service/security/account/user"
# This process, so that collectors tell the replicas (and processes) apart.
OBSERVER = {"typeURI": "service/security",
            "id": f"identity:{socket.gethostname()}:{os.getpid()}"}
MAX_REASON_CHARS = 300
SUCCESS, FAILURE = "success", "failure"
# Keystone's own names where they differ from ours.
TARGET_TYPE_URIS = {"user": "data/security/account/user",
                    "token": "service/security/account/user/token"}


@dataclass(frozen=True, slots=True)
class Claimed:
    """Who a failed authentication (or a call without a token) said it was: ids and
    names only. `extra` is (name, value) pairs of further ids (an application
    credential's id, an OAuth1 consumer's, an EC2 credential's)."""

    user_id: str = ""
    user_name: str = ""
    domain_id: str = ""
    domain_name: str = ""
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Fact:
    """One audit event as recorded on the hot path."""

    at: float
    action: str
    outcome: str
    initiator: TokenInfo | Claimed | None
    target_type: str
    target_id: str
    details: tuple[tuple[str, object], ...]
    origin: OriginFacts
    reason: tuple[str, str] | None = None  # (error class, message)


def target_type_uri(resource: str) -> str:
    return TARGET_TYPE_URIS.get(resource, f"data/security/{resource}")


def cadf_event(fact: Fact) -> dict:
    """The event as the audit log writes it and the stream sends it."""
    event = {
        "typeURI": EVENT_TYPE_URI,
        "eventType": "activity",
        "id": f"openstack:{uuid.uuid4()}",
        "eventTime": datetime.datetime.fromtimestamp(fact.at, datetime.UTC).isoformat(),
        "action": fact.action,
        "outcome": fact.outcome,
        "initiator": _initiator(fact.initiator, fact.origin),
        "target": {"typeURI": fact.target_type, "id": fact.target_id, **dict(fact.details)},
        "observer": OBSERVER,
        "requestId": fact.origin.request_id,
    }
    if fact.reason is not None:
        kind, message = fact.reason
        event["reason"] = {"reasonType": kind, "reasonCode": kind,
                           "reasonDescription": message[:MAX_REASON_CHARS]}
    return event


def _initiator(who: TokenInfo | Claimed | None, origin: OriginFacts) -> dict:
    initiator = {"typeURI": USER_TYPE_URI, "id": ""}
    if isinstance(who, TokenInfo):
        initiator.update(_of_token(who))
    elif isinstance(who, Claimed):
        initiator["id"] = who.user_id
        if who.user_name:
            initiator["name"] = who.user_name
        if who.domain_id or who.domain_name:
            initiator["domain"] = {"id": who.domain_id, "name": who.domain_name}
        initiator.update(who.extra)
    initiator["host"] = {"address": origin.address, "agent": origin.agent}
    return initiator


def _of_token(info: TokenInfo) -> dict:
    """The caller as its token shows it: user, its domain, the scope, how it got it."""
    identity = info.identity
    user = identity.user
    facts = {"id": user.id, "name": user.name,
             "domain": {"id": user.domain.id, "name": user.domain.name},
             "scope": identity.scope_type,
             "credential": {"type": "token", "methods": list(info.methods),
                            "audit_id": info.audit_ids[0] if info.audit_ids else ""}}
    if identity.project is not None:
        facts["project"] = {"id": identity.project.id, "name": identity.project.name,
                            "domain_id": identity.project.domain.id}
    elif identity.domain is not None and identity.scope_type == "domain":
        facts["scope_domain"] = {"id": identity.domain.id, "name": identity.domain.name}
    if identity.trust is not None:  # who really acted: the trustee, maybe as the trustor
        trust = identity.trust
        facts["trust_id"] = trust.id
        facts["trust"] = {"trustor_user_id": trust.trustor_user_id,
                          "trustee_user_id": trust.trustee_user_id,
                          "impersonation": trust.impersonation}
    if identity.api_key is not None:
        facts["application_credential_id"] = identity.api_key.id
    if identity.oauth1_consumer_id:
        facts["oauth1_consumer_id"] = identity.oauth1_consumer_id
    return facts
