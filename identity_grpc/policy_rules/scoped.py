"""The `scoped` profile: system, domain and project admins really are separate.

A project admin manages nothing outside its project's own reading; managing domains,
the catalog and roles takes a system-scoped token; a domain admin manages its own
domain only, and cannot mint power reaching past it. Stricter than Keystone's defaults;
see docs/policy.md.
"""

RULES: dict[str, str] = {
    # Building blocks. Roles are a token's effective roles, so admin implies reader.
    "system_admin": "role:admin and system_scope:all",
    "system_reader": "role:reader and system_scope:all",
    # An admin or reader on a domain-scoped token, acting inside that domain.
    "domain_admin": "role:admin and domain_id:%(target.domain_id)s",
    "domain_reader": "role:reader and domain_id:%(target.domain_id)s",
    "project_reader": "role:reader and project_id:%(target.project_id)s",
    "owner": "user_id:%(target.user_id)s",
    # A consuming service's user, and the user a token (the target) was issued to.
    "service_role": "role:service",
    "token_subject": "user_id:%(target.token.user_id)s",
    "admin": "rule:system_admin or rule:domain_admin",
    "reader": "rule:system_reader or rule:domain_reader",

    "identity:get_domain": "rule:system_reader or domain_id:%(target.domain_id)s"
                           " or project_domain_id:%(target.domain_id)s",
    "identity:list_domains": "rule:system_reader",
    "identity:create_domain": "rule:system_admin",
    "identity:update_domain": "rule:system_admin",
    "identity:delete_domain": "rule:system_admin",

    "identity:get_project": "rule:reader or project_id:%(target.project_id)s",
    "identity:list_projects": "rule:reader",
    "identity:list_project_parents": "rule:reader or project_id:%(target.project_id)s",
    "identity:list_project_subtree": "rule:reader or project_id:%(target.project_id)s",
    "identity:create_project": "rule:admin",
    "identity:update_project": "rule:admin",
    "identity:delete_project": "rule:admin",

    "identity:get_user": "rule:reader or rule:owner",
    "identity:list_users": "rule:reader",
    "identity:create_user": "rule:admin",
    # A domain admin manages the users whose power stays in its domain: reach_domain_id
    # is the one domain holding the user and every target of its grants (direct or
    # through groups), absent when it holds a system grant, grants in several domains
    # or a cloud-wide role. Anyone else's password, name, enabled flag... is a system
    # admin's business, or a domain admin could reset it and log in as them.
    "identity:update_user": "rule:system_admin or (rule:domain_admin and domain_id:%(target.reach_domain_id)s)",
    "identity:delete_user": "rule:system_admin or (rule:domain_admin and domain_id:%(target.reach_domain_id)s)",
    "identity:change_password": "rule:owner",
    "identity:list_user_groups": "rule:reader or rule:owner",
    "identity:list_user_projects": "rule:reader or rule:owner",

    "identity:get_group": "rule:reader",
    "identity:list_groups": "rule:reader",
    "identity:list_group_users": "rule:reader",
    "identity:check_user_in_group": "rule:reader",
    "identity:create_group": "rule:admin",
    "identity:update_group": "rule:admin",
    "identity:delete_group": "rule:admin",
    # A domain admin manages membership of its groups for its users only, and cannot
    # hand out, through a group, power reaching past its domain (group_reach_domain_id:
    # as reach_domain_id, for the group's own grants).
    "identity:add_user_to_group": "rule:system_admin or (rule:domain_admin and domain_id:%(target.user_domain_id)s"
                                  " and domain_id:%(target.group_reach_domain_id)s)",
    "identity:remove_user_from_group": "rule:system_admin or (rule:domain_admin and domain_id:%(target.user_domain_id)s)",

    # Domain admins read roles so that they can grant them.
    "identity:get_role": "rule:system_reader or (role:reader and scope:domain)",
    "identity:list_roles": "rule:system_reader or (role:reader and scope:domain)",
    "identity:list_implied_roles": "rule:system_reader or (role:reader and scope:domain)",
    "identity:create_role": "rule:system_admin",
    "identity:update_role": "rule:system_admin",
    "identity:delete_role": "rule:system_admin",
    "identity:create_implied_role": "rule:system_admin",
    "identity:delete_implied_role": "rule:system_admin",

    # A domain admin grants within its domain: the target and the actor both in it, and
    # never a cloud-wide role (`service`, or one some rule lets act on other domains:
    # policy_probe), which would be minting power over the whole cloud.
    "identity:grant_role": "rule:system_admin or (rule:domain_admin and domain_id:%(target.actor_domain_id)s"
                           " and False:%(target.cloud_wide)s)",
    "identity:revoke_role": "rule:system_admin or (rule:domain_admin and domain_id:%(target.actor_domain_id)s"
                            " and False:%(target.cloud_wide)s)",
    "identity:check_grant": "rule:system_reader or (rule:domain_reader and domain_id:%(target.actor_domain_id)s)",
    "identity:list_role_assignments": "rule:reader or rule:project_reader or rule:owner",

    "identity:get_region": "rule:system_reader",
    "identity:list_regions": "rule:system_reader",
    "identity:create_region": "rule:system_admin",
    "identity:update_region": "rule:system_admin",
    "identity:delete_region": "rule:system_admin",
    "identity:get_service": "rule:system_reader",
    "identity:list_services": "rule:system_reader",
    "identity:create_service": "rule:system_admin",
    "identity:update_service": "rule:system_admin",
    "identity:delete_service": "rule:system_admin",
    "identity:get_endpoint": "rule:system_reader",
    "identity:list_endpoints": "rule:system_reader",
    "identity:create_endpoint": "rule:system_admin",
    "identity:update_endpoint": "rule:system_admin",
    "identity:delete_endpoint": "rule:system_admin",

    # Token operations (Keystone's rules of the same names). The target is the token
    # acted on: `target.token.user_id`. Admin on one project or domain is no token
    # admin of the whole cloud; consuming services hold `service`.
    "identity:validate_token": "rule:service_role or rule:system_reader or rule:token_subject",
    "identity:check_token": "rule:service_role or rule:system_reader or rule:token_subject",
    "identity:revoke_token": "rule:service_role or rule:system_admin or rule:token_subject",
    # What services that check tokens themselves need: no token is the target.
    "identity:watch_revocations": "rule:service_role or rule:system_reader",
    "identity:get_signing_keys": "rule:service_role or rule:system_reader",
    # The projects of a domain-scoped token's domain (the caller's own token, or a subject).
    "identity:list_domain_projects": "rule:service_role or rule:system_reader or rule:token_subject",
}
