"""Operations on credentials (`/v3/credentials`) and EC2 credentials (`OS-EC2`).

A credential's owner manages it, as in Keystone; a system admin manages anyone's (and
in the `keystone` profile any admin: Keystone's deprecated `admin_required` still
holds there). Each rule is asked about the credential's owner (`credential.user_id`),
read from the store, never from what the request says. A token got with an EC2
credential cannot make more credentials (Keystone's LP#2153453): a leaked EC2 secret
must not mint standing credentials of its own."""

from __future__ import annotations

from ..credential_blobs import access_hash
from ..errors import PermissionDenied
from ..records import TokenInfo
from .audited import audited
from .base import Ops


def _not_from_ec2(caller: TokenInfo, what: str) -> None:
    if "ec2credential" in caller.methods:
        raise PermissionDenied(f"a token issued with an EC2 credential cannot {what} credentials")


def _ec2_id(arguments: dict, result) -> str:
    """An EC2 credential's id in its audit event: the hash of its access key (as
    Keystone's credential id), never the key pair itself."""
    access = arguments.get("access") or getattr(result, "access", "")
    return access_hash(access) if access else ""


class CredentialBlobOps(Ops):
    @property
    def _blobs(self):
        return self.core.credential_blobs

    def _enforce_on(self, rule: str, caller: TokenInfo, owner: str) -> None:
        self.enforce(rule, caller, **{"credential.user_id": owner, "user_id": owner})

    def _allowed(self, rule: str, caller: TokenInfo, owner: str) -> bool:
        try:
            self._enforce_on(rule, caller, owner)
        except PermissionDenied:
            return False
        return True

    # ---- /v3/credentials ------------------------------------------------------------

    @audited("created.credential", details=("user_id", "type_", "project_id"))
    def create(self, caller: TokenInfo, user_id: str, type_: str, blob: str,
               project_id: str | None = None, extra: dict | None = None):
        self._enforce_on("create_credential", caller, user_id)
        _not_from_ec2(caller, "create")
        return self._blobs.create(user_id, type_, blob, project_id=project_id, extra=extra)

    def get(self, caller: TokenInfo, credential_id: str):
        self._enforce_on("get_credential", caller, self._blobs.owner_of(credential_id))
        return self._blobs.get(credential_id)

    def list(self, caller: TokenInfo, user_id: str = "", type_: str = "", limit: int = 0):
        """As Keystone: the rule is asked about the filtered user (the caller itself
        when not system-scoped and unfiltered), then each credential must pass
        `get_credential`, so a caller only ever sees what it may read."""
        target = user_id or (None if caller.identity.scope_type == "system"
                             else caller.identity.user.id)
        self.enforce("list_credentials", caller,
                     **({"credential.user_id": target, "user_id": target} if target else {}))
        return [c for c in self._blobs.list(user_id, type_, limit)
                if self._allowed("get_credential", caller, c.user_id)]

    @audited("updated.credential")
    def update(self, caller: TokenInfo, credential_id: str, **changes):
        self._enforce_on("update_credential", caller, self._blobs.owner_of(credential_id))
        _not_from_ec2(caller, "update")
        return self._blobs.update(credential_id, **changes)

    @audited("deleted.credential")
    def delete(self, caller: TokenInfo, credential_id: str) -> None:
        self._enforce_on("delete_credential", caller, self._blobs.owner_of(credential_id))
        self._blobs.delete(credential_id)

    # ---- /v3/users/{user_id}/credentials/OS-EC2 ---------------------------------------

    @audited("created.ec2_credential", id_arg=_ec2_id, details=("user_id", "project_id"))
    def ec2_create(self, caller: TokenInfo, user_id: str, project_id: str):
        user_id = user_id or caller.identity.user.id
        self._enforce_on("ec2_create_credential", caller, user_id)
        _not_from_ec2(caller, "create")
        return self._blobs.ec2_create(user_id, project_id)

    def ec2_list(self, caller: TokenInfo, user_id: str):
        user_id = user_id or caller.identity.user.id
        self._enforce_on("ec2_list_credentials", caller, user_id)
        return self._blobs.ec2_list(user_id)

    def ec2_get(self, caller: TokenInfo, user_id: str, access: str):
        user_id = user_id or caller.identity.user.id
        self._enforce_on("ec2_get_credential", caller, user_id)
        return self._blobs.ec2_get(user_id, access)

    @audited("deleted.ec2_credential", id_arg=_ec2_id, details=("user_id",))
    def ec2_delete(self, caller: TokenInfo, user_id: str, access: str) -> None:
        user_id = user_id or caller.identity.user.id
        self._enforce_on("ec2_delete_credential", caller, user_id)
        self._blobs.ec2_delete(user_id, access)
