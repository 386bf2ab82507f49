"""Domain configuration (table DomainConfigOption): a domain's `[group] option = value`
settings, each value JSON, each marked sensitive or not. A domain's options go with it
(the table's foreign key cascades)."""

import json
from dataclasses import dataclass

from .base import ConceptStore


@dataclass(frozen=True)
class ConfigOption:
    group: str
    option: str
    value: object
    sensitive: bool


class DomainConfigStore(ConceptStore):
    def _where(self, domain_id: str, group: str = "", option: str = ""):
        T = self.t.DomainConfigOption
        where = T.domain == domain_id
        if group:
            where &= T.group_name == group
        if option:
            where &= T.option_name == option
        return where

    def options(self, domain_id: str, group: str = "", option: str = "",
                sensitive: bool | None = None) -> list[ConfigOption]:
        """The domain's options (of `group`, that `option`; only the sensitive or the
        other ones when `sensitive` is given), by group then option."""
        T = self.t.DomainConfigOption
        query = T.select().where(self._where(domain_id, group, option))
        if sensitive is not None:
            query = query.where(T.sensitive == sensitive)
        return [ConfigOption(r.group_name, r.option_name, json.loads(r.value), r.sensitive)
                for r in query.order_by(T.group_name, T.option_name)]

    def put(self, domain_id: str, options: list[ConfigOption]) -> None:
        """Set each option (replacing its value if the domain has it)."""
        T = self.t.DomainConfigOption
        for item in options:
            T.delete().where(self._where(domain_id, item.group, item.option)).execute()
        if options:
            T.insert_many([{"domain": domain_id, "group_name": o.group, "option_name": o.option,
                            "value": json.dumps(o.value), "sensitive": o.sensitive}
                           for o in options]).execute()

    def delete(self, domain_id: str, group: str = "", option: str = "") -> int:
        """Options deleted: all the domain's, a group's, or one."""
        T = self.t.DomainConfigOption
        return T.delete().where(self._where(domain_id, group, option)).execute()
