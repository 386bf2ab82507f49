"""OAuth1 (Keystone's OS-OAUTH1): consumers, authorizing request tokens, and the access
tokens a user authorized.

`KEYSTONE` is what Keystone 30 enforces by default (keystone/common/policies/consumer.py
and access_token.py, with enforce_new_defaults off, so each rule is its new check or its
deprecated `rule:admin_required`): any admin manages consumers, and the access-token
calls are an admin's. `SCOPED`: consumers are a system admin's (a system reader reads
them); a user authorizes a request token as an admin of the very project it asks for,
and its own access tokens are its business (a system reader reads anyone's, a system
admin deletes them).
"""

KEYSTONE: dict[str, str] = {
    "identity:get_consumer": "(role:reader and system_scope:all) or role:admin",
    "identity:list_consumers": "(role:reader and system_scope:all) or role:admin",
    "identity:create_consumer": "role:admin",
    "identity:update_consumer": "role:admin",
    "identity:delete_consumer": "role:admin",
    "identity:authorize_request_token": "role:admin",
    "identity:list_access_tokens": "role:admin",
    "identity:get_access_token": "role:admin",
    "identity:delete_access_token": "role:admin",
    "identity:list_access_token_roles": "role:admin",
    "identity:get_access_token_role": "role:admin",
}

_OWNER_OR_SYSTEM_READER = "(role:reader and system_scope:all) or user_id:%(target.user_id)s"

SCOPED: dict[str, str] = {
    "identity:get_consumer": "role:reader and system_scope:all",
    "identity:list_consumers": "role:reader and system_scope:all",
    "identity:create_consumer": "role:admin and system_scope:all",
    "identity:update_consumer": "role:admin and system_scope:all",
    "identity:delete_consumer": "role:admin and system_scope:all",
    "identity:authorize_request_token": "role:admin and project_id:%(target.project_id)s",
    "identity:list_access_tokens": _OWNER_OR_SYSTEM_READER,
    "identity:get_access_token": _OWNER_OR_SYSTEM_READER,
    "identity:delete_access_token": "(role:admin and system_scope:all) or user_id:%(target.user_id)s",
    "identity:list_access_token_roles": _OWNER_OR_SYSTEM_READER,
    "identity:get_access_token_role": _OWNER_OR_SYSTEM_READER,
}
