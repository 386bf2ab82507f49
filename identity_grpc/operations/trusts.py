"""Operations on trusts (Keystone's OS-TRUST): a user's own as trustor or trustee, or
anyone's for a reader of the whole cloud.

The rules' target is the trust (`target.trust.trustor_user_id`,
`target.trust.trustee_user_id`), as in Keystone. A trust is made by its trustor only,
never through a restricted API key's token (Keystone refuses restricted application
credentials), and through a trust-scoped token only when that trust allows
redelegation."""

from __future__ import annotations

from ..errors import PermissionDenied
from ..records import RoleEntry, TokenInfo, TrustEntry, TrustRequest
from .audited import audited
from .base import Ops


def _parties(trust) -> dict:
    return {"trust.trustor_user_id": trust.trustor_id, "trust.trustee_user_id": trust.trustee_id}


def _not_from_api_key(caller: TokenInfo, what: str) -> None:
    """Keystone: "Using method 'application_credential' is not allowed for managing
    trusts", unless the credential is unrestricted."""
    key = caller.identity.api_key
    if "api_key" in caller.methods and (key is None or not key.unrestricted):
        raise PermissionDenied(f"a token issued with a restricted api key (application "
                               f"credential) cannot {what} trusts")


class TrustOps(Ops):
    @property
    def _trusts(self):
        return self.core.trusts

    @audited("created.trust")
    def create(self, caller: TokenInfo, request: TrustRequest) -> TrustEntry:
        self.enforce("create_trust", caller,
                     **{"trust.trustor_user_id": request.trustor_user_id,
                        "trust.trustee_user_id": request.trustee_user_id})
        _not_from_api_key(caller, "create")
        if caller.identity.user.id != request.trustor_user_id:
            raise PermissionDenied("The authenticated user should match the trustor")
        delegated = caller.identity.trust
        if delegated is not None and delegated.redelegation_count <= 0:
            raise PermissionDenied("the trust of this token does not allow redelegation")
        trust = self._trusts.create(request, redelegated_from=delegated.id if delegated else None)
        return self._trusts.entry(trust)

    def get(self, caller: TokenInfo, trust_id: str) -> TrustEntry:
        trust = self._trusts.get(trust_id)  # Keystone: a missing trust is 404 before 403
        self.enforce("get_trust", caller, **_parties(trust))
        return self._trusts.entry(trust)

    def list(self, caller: TokenInfo, trustor_user_id: str = "", trustee_user_id: str = "",
             page_size: int = 0, page_token: str = "") -> tuple[list[TrustEntry], str]:
        """Keystone's rules: a trustor's trusts (`list_trusts_for_trustor`), a
        trustee's (`list_trusts_for_trustee`), or, with neither filter, all of them
        (`list_trusts`)."""
        if trustor_user_id:
            self.enforce("list_trusts_for_trustor", caller,
                         **{"trust.trustor_user_id": trustor_user_id})
        if trustee_user_id:
            self.enforce("list_trusts_for_trustee", caller,
                         **{"trust.trustee_user_id": trustee_user_id})
        if not trustor_user_id and not trustee_user_id:
            self.enforce("list_trusts", caller)
        rows, token = self._trusts.list_trusts(trustor_user_id, trustee_user_id, page_size,
                                               page_token)
        return [self._trusts.entry(t) for t in rows], token

    @audited("deleted.trust")
    def delete(self, caller: TokenInfo, trust_id: str) -> None:
        trust = self._trusts.get(trust_id)
        self.enforce("delete_trust", caller, **_parties(trust))
        _not_from_api_key(caller, "delete")
        self._trusts.delete(trust_id)

    def roles(self, caller: TokenInfo, trust_id: str) -> tuple[RoleEntry, ...]:
        trust = self._trusts.get(trust_id)
        self.enforce("list_roles_for_trust", caller, **_parties(trust))
        return self._trusts.entry(trust).roles

    def role(self, caller: TokenInfo, trust_id: str, role_id: str) -> RoleEntry:
        trust = self._trusts.get(trust_id)
        self.enforce("get_role_for_trust", caller, **_parties(trust))
        return self._trusts.role(trust, role_id)
