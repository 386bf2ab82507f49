"""Keystone's policy API (`/v3/policies`: stored blobs). No target."""

# Keystone 30: system readers read and system admins write, and (its admin_required)
# an admin on any scope does both.
KEYSTONE: dict[str, str] = {
    "identity:get_policy": "role:admin or (role:reader and system_scope:all)",
    "identity:list_policies": "role:admin or (role:reader and system_scope:all)",
    "identity:create_policy": "role:admin",
    "identity:update_policy": "role:admin",
    "identity:delete_policy": "role:admin",
}

# Scoped: the cloud's business, system scope only.
SCOPED: dict[str, str] = {
    "identity:get_policy": "role:reader and system_scope:all",
    "identity:list_policies": "role:reader and system_scope:all",
    "identity:create_policy": "role:admin and system_scope:all",
    "identity:update_policy": "role:admin and system_scope:all",
    "identity:delete_policy": "role:admin and system_scope:all",
}
