"""Endpoint groups and project endpoints (Keystone's OS-EP-FILTER).

Keystone 30 ships `rule:admin_required` (`role:admin`: an admin on any scope) for
every change and `rule:admin_required or (role:reader and system_scope:all)` for every
read; the scoped profile keeps them to the system's admins and readers, as the
catalog's own rules are.
"""

WRITES = ("create_endpoint_group", "update_endpoint_group", "delete_endpoint_group",
          "add_endpoint_group_to_project", "remove_endpoint_group_from_project",
          "add_endpoint_to_project", "remove_endpoint_from_project")
READS = ("get_endpoint_group", "list_endpoint_groups",
         "list_endpoints_associated_with_endpoint_group",
         "list_projects_associated_with_endpoint_group", "list_endpoint_groups_for_project",
         "get_endpoint_group_in_project", "check_endpoint_in_project",
         "list_endpoints_for_project", "list_projects_for_endpoint")

KEYSTONE: dict[str, str] = {
    **{f"identity:{name}": "rule:admin_required" for name in WRITES},
    **{f"identity:{name}": "rule:admin_required or rule:system_reader" for name in READS},
}

SCOPED: dict[str, str] = {
    **{f"identity:{name}": "rule:system_admin" for name in WRITES},
    **{f"identity:{name}": "rule:system_reader" for name in READS},
}
