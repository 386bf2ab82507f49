"""Operations on a domain's configuration (Keystone's `/v3/domains/{id}/config`)."""

from __future__ import annotations

from ..records import TokenInfo
from .audited import audited
from .base import Ops


class DomainConfigOps(Ops):
    def _enforce(self, rule: str, caller: TokenInfo, domain_id: str) -> None:
        self.enforce(rule, caller, domain_id=self.core.resources.get_domain(domain_id).id)

    @audited("created.domain_config", id_arg="domain_id")
    def create(self, caller: TokenInfo, domain_id: str, config) -> tuple[dict, bool]:
        """(the configuration as shown, whether the domain had none before)."""
        self._enforce("create_domain_config", caller, domain_id)
        return self.core.domain_config.create(domain_id, config)

    def get(self, caller: TokenInfo, domain_id: str, group: str = "", option: str = "") -> dict:
        self._enforce("get_domain_config", caller, domain_id)
        return self.core.domain_config.get(domain_id, group, option)

    @audited("updated.domain_config", details=("group", "option"))
    def update(self, caller: TokenInfo, domain_id: str, config, group: str = "",
               option: str = "") -> dict:
        self._enforce("update_domain_config", caller, domain_id)
        return self.core.domain_config.update(domain_id, config, group, option)

    @audited("deleted.domain_config", details=("group", "option"))
    def delete(self, caller: TokenInfo, domain_id: str, group: str = "", option: str = "") -> None:
        self._enforce("delete_domain_config", caller, domain_id)
        self.core.domain_config.delete(domain_id, group, option)

    def defaults(self, caller: TokenInfo, group: str = "", option: str = "") -> dict:
        self.enforce("get_domain_config_default", caller)
        return self.core.domain_config.defaults(group, option)
