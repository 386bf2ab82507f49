"""The audit stream (`WatchAuditEvents`): everyone's authentications and changes, so
admins only. No target."""

# Keystone has no rule of its own for it: its admin_required (an admin on any
# scope), as for the other cloud-wide records.
KEYSTONE: dict[str, str] = {
    "identity:watch_audit_events": "role:admin",
}

# Scoped: the cloud's admins, system scope only.
SCOPED: dict[str, str] = {
    "identity:watch_audit_events": "role:admin and system_scope:all",
}
