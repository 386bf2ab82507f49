"""Project tags (`/v3/projects/{id}/tags`). The target is the project:
`target.project_id`, `target.domain_id` (its domain)."""

# Keystone 30: readers of the system or of the project's domain, and anyone scoped to
# the project, read its tags; an admin (Keystone's admin_required, any scope) writes.
_KEYSTONE_READ = ("role:admin or (role:reader and system_scope:all)"
                  " or (role:reader and domain_id:%(target.domain_id)s)"
                  " or project_id:%(target.project_id)s")
# (Its scoped admin checks are all within `role:admin`.)
_KEYSTONE_WRITE = "role:admin"

KEYSTONE: dict[str, str] = {
    "identity:list_project_tags": _KEYSTONE_READ,
    "identity:get_project_tag": _KEYSTONE_READ,
    "identity:update_project_tags": _KEYSTONE_WRITE,
    "identity:create_project_tag": _KEYSTONE_WRITE,
    "identity:delete_project_tags": _KEYSTONE_WRITE,
    "identity:delete_project_tag": _KEYSTONE_WRITE,
}

# Scoped: system readers, the domain's readers and the project's own users read; system
# admins, the domain's admins and the project's admins write.
_SCOPED_READ = ("(role:reader and system_scope:all)"
                " or (role:reader and domain_id:%(target.domain_id)s)"
                " or project_id:%(target.project_id)s")
_SCOPED_WRITE = ("(role:admin and system_scope:all)"
                 " or (role:admin and domain_id:%(target.domain_id)s)"
                 " or (role:admin and project_id:%(target.project_id)s)")

SCOPED: dict[str, str] = {name: _SCOPED_READ if "list" in name or "get" in name else _SCOPED_WRITE
                          for name in KEYSTONE}
