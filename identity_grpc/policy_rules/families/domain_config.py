"""Domain configuration (`/v3/domains/{id}/config`, `/v3/domains/config/default`). The
target is the domain: `target.domain_id` (none for the defaults)."""

# Keystone 30: system readers read and system admins write, and (its admin_required)
# an admin on any scope does both.
KEYSTONE: dict[str, str] = {
    "identity:create_domain_config": "role:admin",
    "identity:get_domain_config": "role:admin or (role:reader and system_scope:all)",
    "identity:update_domain_config": "role:admin",
    "identity:delete_domain_config": "role:admin",
    "identity:get_domain_config_default": "role:admin or (role:reader and system_scope:all)",
}

# Scoped: a domain's backend settings are the cloud's business: system scope only.
SCOPED: dict[str, str] = {
    "identity:create_domain_config": "role:admin and system_scope:all",
    "identity:get_domain_config": "role:reader and system_scope:all",
    "identity:update_domain_config": "role:admin and system_scope:all",
    "identity:delete_domain_config": "role:admin and system_scope:all",
    "identity:get_domain_config_default": "role:reader and system_scope:all",
}
