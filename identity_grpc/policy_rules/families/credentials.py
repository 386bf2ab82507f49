"""Credentials (`/v3/credentials`) and EC2 credentials (`/v3/users/{id}/credentials/OS-EC2`).

Targets: `credential.user_id`, the credential's owner (read from the store), and
`user_id`, the user in the path (the same user for these operations).

`KEYSTONE`: Keystone 30's defaults as its deployments effectively run them, the new
default or its deprecated rule (oslo.policy's `enforce_new_defaults = False`): a
system reader/admin or the owner, or `admin_required` (`role:admin`, on any scope).
`SCOPED`: the owner, or a system reader (to read) or system admin (to change); a
project or domain admin manages no one else's credentials.
"""

_SYSTEM_READER = "(role:reader and system_scope:all)"
_SYSTEM_ADMIN = "(role:admin and system_scope:all)"
_CRED_OWNER = "user_id:%(target.credential.user_id)s"
_OWNER = "user_id:%(target.user_id)s"

KEYSTONE: dict[str, str] = {
    # SYSTEM_READER_OR_CRED_OWNER / SYSTEM_ADMIN_OR_CRED_OWNER, or admin_required.
    "identity:get_credential": f"{_SYSTEM_READER} or {_CRED_OWNER} or role:admin",
    "identity:list_credentials": f"{_SYSTEM_READER} or {_CRED_OWNER} or role:admin",
    "identity:create_credential": f"{_SYSTEM_ADMIN} or {_CRED_OWNER} or role:admin",
    "identity:update_credential": f"{_SYSTEM_ADMIN} or {_CRED_OWNER} or role:admin",
    "identity:delete_credential": f"{_SYSTEM_ADMIN} or {_CRED_OWNER} or role:admin",
    # SYSTEM_READER_OR_CRED_OWNER, or admin_or_credential_owner.
    "identity:ec2_get_credential": f"{_SYSTEM_READER} or {_CRED_OWNER} or role:admin",
    # RULE_SYSTEM_READER_OR_OWNER / RULE_SYSTEM_ADMIN_OR_OWNER, or admin_or_owner.
    "identity:ec2_list_credentials": f"{_SYSTEM_READER} or {_OWNER} or role:admin",
    "identity:ec2_create_credential": f"{_SYSTEM_ADMIN} or {_OWNER} or role:admin",
    # SYSTEM_ADMIN_OR_CRED_OWNER, or admin_or_credential_owner.
    "identity:ec2_delete_credential": f"{_SYSTEM_ADMIN} or {_CRED_OWNER} or role:admin",
}

SCOPED: dict[str, str] = {
    "identity:get_credential": f"{_SYSTEM_READER} or {_CRED_OWNER}",
    "identity:list_credentials": f"{_SYSTEM_READER} or {_CRED_OWNER}",
    "identity:create_credential": f"{_SYSTEM_ADMIN} or {_CRED_OWNER}",
    "identity:update_credential": f"{_SYSTEM_ADMIN} or {_CRED_OWNER}",
    "identity:delete_credential": f"{_SYSTEM_ADMIN} or {_CRED_OWNER}",
    "identity:ec2_get_credential": f"{_SYSTEM_READER} or {_CRED_OWNER}",
    "identity:ec2_list_credentials": f"{_SYSTEM_READER} or {_OWNER}",
    "identity:ec2_create_credential": f"{_SYSTEM_ADMIN} or {_OWNER}",
    "identity:ec2_delete_credential": f"{_SYSTEM_ADMIN} or {_CRED_OWNER}",
}
