"""Keystone's role inference rules over HTTP, beside the base profiles' own
`identity:list_implied_roles`, `create_implied_role` and `delete_implied_role`:
showing one rule (GET), checking it (HEAD) and listing them all (`/v3/role_inferences`).

Keystone 30 ships `rule:admin_required or (role:reader and system_scope:all)` for the
three; the scoped profile reads them as it reads `list_implied_roles`.
"""

KEYSTONE: dict[str, str] = {
    f"identity:{name}": "rule:admin_required or rule:system_reader"
    for name in ("get_implied_role", "check_implied_role", "list_role_inference_rules")
}

SCOPED: dict[str, str] = {
    f"identity:{name}": "rule:system_reader or (role:reader and scope:domain)"
    for name in ("get_implied_role", "check_implied_role", "list_role_inference_rules")
}
