"""Trusts (`/v3/OS-TRUST/trusts`, the Trusts admin service).

The target is the trust: `target.trust.trustor_user_id`, `target.trust.trustee_user_id`
(for a create, the request's; for a list, the filter's).

KEYSTONE: Keystone 30's defaults, its deprecated rules still ORed in as it does while
`enforce_new_defaults` is off: so `list_trusts` (no filter) is also an admin on any
scope's (`admin_required`), as Tempest's test_get_trusts_all expects. SCOPED: only a
reader or admin of the whole system acts on other users' trusts; a project admin is
no trust admin of the cloud.
"""

_SYSTEM_READER = "(role:reader and system_scope:all)"
_SYSTEM_ADMIN = "(role:admin and system_scope:all)"
_TRUSTOR = "user_id:%(target.trust.trustor_user_id)s"
_TRUSTEE = "user_id:%(target.trust.trustee_user_id)s"
_PARTY = f"{_SYSTEM_READER} or {_TRUSTOR} or {_TRUSTEE}"

KEYSTONE: dict[str, str] = {
    # Keystone's `trust_owner`: the trustor only (the operation checks it again).
    "identity:create_trust": _TRUSTOR,
    "identity:list_trusts": f"{_SYSTEM_READER} or rule:admin_required",
    "identity:list_trusts_for_trustor": f"{_SYSTEM_READER} or {_TRUSTOR}",
    "identity:list_trusts_for_trustee": f"{_SYSTEM_READER} or {_TRUSTEE}",
    "identity:list_roles_for_trust": _PARTY,
    "identity:get_role_for_trust": _PARTY,
    "identity:delete_trust": f"{_SYSTEM_ADMIN} or {_TRUSTOR}",
    "identity:get_trust": _PARTY,
}

SCOPED: dict[str, str] = {**KEYSTONE, "identity:list_trusts": _SYSTEM_READER}
