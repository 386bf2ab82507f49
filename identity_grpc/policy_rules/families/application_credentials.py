"""Application credentials and access rules (`/v3/users/{user_id}/application_credentials`,
`/v3/users/{user_id}/access_rules`), which are our API keys (the ApiKeys admin
service): one set of rules for both names (docs/appcreds.md).

The target is the owning user, `target.user_id`. KEYSTONE: Keystone 30's defaults with
its deprecated rules ORed in (`enforce_new_defaults` off): the owner, an admin on any
scope (`admin_required`), or, to read, a system reader; only the owner makes one.
`identity:create_api_key` is ours: making another user's key, gRPC's `on_behalf`
(Keystone's HTTP API refuses that to anybody), an admin's. SCOPED: only a system
reader reads another user's, a system admin deletes or makes one.
"""

_OWNER = "rule:owner"
_SYSTEM_READER = "rule:system_reader"

KEYSTONE: dict[str, str] = {
    "identity:create_application_credential": _OWNER,
    "identity:get_application_credential": f"rule:admin_required or {_SYSTEM_READER} or {_OWNER}",
    "identity:list_application_credentials": f"rule:admin_required or {_SYSTEM_READER} or {_OWNER}",
    "identity:delete_application_credential": f"rule:admin_required or {_OWNER}",
    "identity:get_access_rule": f"rule:admin_required or {_SYSTEM_READER} or {_OWNER}",
    "identity:list_access_rules": f"rule:admin_required or {_SYSTEM_READER} or {_OWNER}",
    "identity:delete_access_rule": f"rule:admin_required or {_OWNER}",
    "identity:create_api_key": "rule:admin_required",
}

SCOPED: dict[str, str] = {
    "identity:create_application_credential": _OWNER,
    "identity:get_application_credential": f"{_OWNER} or {_SYSTEM_READER}",
    "identity:list_application_credentials": f"{_OWNER} or {_SYSTEM_READER}",
    "identity:delete_application_credential": f"{_OWNER} or rule:system_admin",
    "identity:get_access_rule": f"{_OWNER} or {_SYSTEM_READER}",
    "identity:list_access_rules": f"{_OWNER} or {_SYSTEM_READER}",
    "identity:delete_access_rule": f"{_OWNER} or rule:system_admin",
    "identity:create_api_key": "rule:system_admin",
}
