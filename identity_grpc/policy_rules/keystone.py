"""The `keystone` profile (the default): the rules Keystone 30 ships.

Keystone's defaults are scope-aware rules (system readers, domain readers and managers,
project members) each ORed with the older `admin_required`, which is `role:admin` on a
token of any scope: with the default `enforce_new_defaults = false` that is what a
Keystone deployment enforces, and what every OpenStack tool relies on (`admin-openrc`
is an admin on a project, and manages the whole cloud with it). Rules are written in
our target's names (`target.domain_id` is the domain of the user, group or project
acted on). Our API keys are Keystone's application credentials, under its rules
(families/application_credentials.py); Keystone has no rules of its own for the
revocation stream and the signing keys: those follow its token operations'. See docs/policy.md.
"""

RULES: dict[str, str] = {
    # Keystone's building blocks (oslo.policy's `is_admin:1` has no counterpart here).
    "admin_required": "role:admin",
    "service_role": "role:service",
    "service_or_admin": "rule:admin_required or rule:service_role",
    "owner": "user_id:%(target.user_id)s",
    "admin_or_owner": "rule:admin_required or rule:owner",
    "token_subject": "user_id:%(target.token.user_id)s",
    "admin_or_token_subject": "rule:admin_required or rule:token_subject",
    "service_admin_or_token_subject": "rule:service_or_admin or rule:token_subject",
    "system_reader": "role:reader and system_scope:all",
    "system_admin": "role:admin and system_scope:all",
    "domain_reader": "role:reader and domain_id:%(target.domain_id)s",
    # Keystone's `manager` role: self-service of users, groups and projects in a domain.
    "domain_manager": "role:manager and domain_id:%(target.domain_id)s",
    "admin_or_reader": "rule:admin_required or rule:system_reader or rule:domain_reader",
    "admin_or_manager": "rule:admin_required or rule:domain_manager",

    "identity:get_domain": "rule:admin_required or rule:system_reader"
                           " or domain_id:%(target.domain_id)s"
                           " or project_domain_id:%(target.domain_id)s",
    "identity:list_domains": "rule:admin_required or rule:system_reader",
    "identity:create_domain": "rule:admin_required",
    "identity:update_domain": "rule:admin_required",
    "identity:delete_domain": "rule:admin_required",

    "identity:get_project": "rule:admin_or_reader or project_id:%(target.project_id)s",
    "identity:list_projects": "rule:admin_or_reader",
    "identity:list_project_parents": "rule:admin_or_reader or project_id:%(target.project_id)s",
    "identity:list_project_subtree": "rule:admin_or_reader or project_id:%(target.project_id)s",
    "identity:create_project": "rule:admin_or_manager",
    "identity:update_project": "rule:admin_or_manager",
    "identity:delete_project": "rule:admin_or_manager",

    "identity:get_user": "rule:admin_or_reader or rule:owner",
    "identity:list_users": "rule:admin_or_reader",
    "identity:create_user": "rule:admin_or_manager",
    "identity:update_user": "rule:admin_or_manager",
    "identity:delete_user": "rule:admin_or_manager",
    # Keystone leaves POST /v3/users/{id}/password unenforced (the original password is
    # the proof): an admin changes another user's password with it too (Tempest's
    # test_update_user_password); another non-admin does not.
    "identity:change_password": "rule:owner or rule:admin_required",
    "identity:list_user_groups": "rule:admin_or_reader or rule:owner",
    "identity:list_user_projects": "rule:admin_or_reader or rule:owner",

    "identity:get_group": "rule:admin_or_reader",
    "identity:list_groups": "rule:admin_or_reader",
    "identity:list_group_users": "rule:admin_or_reader",
    "identity:check_user_in_group": "rule:admin_or_reader",
    "identity:create_group": "rule:admin_or_manager",
    "identity:update_group": "rule:admin_or_manager",
    "identity:delete_group": "rule:admin_or_manager",
    # A manager adds its domain's users to its domain's groups.
    "identity:add_user_to_group": "rule:admin_required or (rule:domain_manager"
                                  " and domain_id:%(target.user_domain_id)s)",
    "identity:remove_user_from_group": "rule:admin_required or (rule:domain_manager"
                                       " and domain_id:%(target.user_domain_id)s)",

    "identity:get_role": "rule:admin_required or rule:system_reader"
                         " or (role:manager and scope:domain)",
    "identity:list_roles": "rule:admin_required or rule:system_reader"
                           " or (role:manager and scope:domain)",
    "identity:list_implied_roles": "rule:admin_required or rule:system_reader",
    "identity:create_role": "rule:admin_required",
    "identity:update_role": "rule:admin_required",
    "identity:delete_role": "rule:admin_required",
    "identity:create_implied_role": "rule:admin_required",
    "identity:delete_implied_role": "rule:admin_required",

    # Keystone's create_grant / revoke_grant / check_grant / list_role_assignments.
    "identity:grant_role": "rule:admin_required",
    "identity:revoke_role": "rule:admin_required",
    "identity:check_grant": "rule:admin_required or rule:system_reader"
                            " or (role:reader and domain_id:%(target.actor_domain_id)s)",
    # One addition to Keystone's: a user may list its own assignments (`?user.id=` of
    # itself), which is how our CLI resolves role names for a user who may not list roles.
    "identity:list_role_assignments": "rule:admin_or_reader or rule:owner",

    # Regions are readable by anyone holding a token, as in Keystone.
    "identity:get_region": "",
    "identity:list_regions": "",
    "identity:create_region": "rule:admin_required",
    "identity:update_region": "rule:admin_required",
    "identity:delete_region": "rule:admin_required",
    "identity:get_service": "rule:admin_required or rule:system_reader",
    "identity:list_services": "rule:admin_required or rule:system_reader",
    "identity:create_service": "rule:admin_required",
    "identity:update_service": "rule:admin_required",
    "identity:delete_service": "rule:admin_required",
    "identity:get_endpoint": "rule:admin_required or rule:system_reader",
    "identity:list_endpoints": "rule:admin_required or rule:system_reader",
    "identity:create_endpoint": "rule:admin_required",
    "identity:update_endpoint": "rule:admin_required",
    "identity:delete_endpoint": "rule:admin_required",

    # Keystone's token rules: a service, an admin, or the token's own user.
    "identity:validate_token": "rule:service_admin_or_token_subject or rule:system_reader",
    "identity:check_token": "rule:service_admin_or_token_subject or rule:system_reader",
    "identity:revoke_token": "rule:service_admin_or_token_subject",
    "identity:watch_revocations": "rule:service_or_admin or rule:system_reader",
    "identity:get_signing_keys": "rule:service_or_admin or rule:system_reader",
    "identity:list_domain_projects": "rule:service_admin_or_token_subject or rule:system_reader",
}
