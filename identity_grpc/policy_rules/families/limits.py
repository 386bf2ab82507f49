"""Unified limits (`/v3/registered_limits`, `/v3/limits`, `/v3/limits/model`). The
target of `get_limit` is the limit's owner: `target.project_id` and `target.domain_id`
(its project and that project's domain), or `target.domain_id` alone (a domain's limit).
Lists are narrowed to the caller's scope by the operation, as Keystone narrows them."""

# Keystone 30: anyone with a token reads the registered limits, the model and (what
# its scope shows of) the limits; a limit is read by a system reader or by its project's
# or domain's users; an admin (Keystone's admin_required, any scope) writes.
KEYSTONE: dict[str, str] = {
    "identity:get_limit_model": "",
    "identity:get_registered_limit": "",
    "identity:list_registered_limits": "",
    "identity:create_registered_limits": "role:admin",
    "identity:update_registered_limit": "role:admin",
    "identity:delete_registered_limit": "role:admin",
    "identity:get_limit": "role:admin or (role:reader and system_scope:all)"
                          " or domain_id:%(target.domain_id)s"
                          " or project_id:%(target.project_id)s",
    "identity:list_limits": "",
    "identity:create_limits": "role:admin",
    "identity:update_limit": "role:admin",
    "identity:delete_limit": "role:admin",
}

# Scoped: reading as Keystone (without the any-scope admin); writing is a system admin's.
SCOPED: dict[str, str] = {
    **KEYSTONE,
    "identity:get_limit": "(role:reader and system_scope:all)"
                          " or domain_id:%(target.domain_id)s"
                          " or project_id:%(target.project_id)s",
    **{name: "role:admin and system_scope:all" for name in (
        "identity:create_registered_limits", "identity:update_registered_limit",
        "identity:delete_registered_limit", "identity:create_limits", "identity:update_limit",
        "identity:delete_limit")},
}
