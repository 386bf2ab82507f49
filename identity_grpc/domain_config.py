"""Domain configuration: a domain's own settings for its identity backend (Keystone's
domain-specific configuration), `{"identity": {...}, "ldap": {...}}`.

Only Keystone's groups and options are accepted: `identity` (`driver`, `list_limit`)
and `ldap` (the LDAP options below). Sensitive options (`ldap.password`) are stored but
never returned by the API; `effective()` gives a domain's whole configuration, the
sensitive options included and substituted where a value names them (`%(password)s`),
for the identity backend that serves the domain (LDAP-backed domains: docs/ldap.md).

An unknown group or option, or an empty configuration, is PermissionDenied (403), as
Keystone's InvalidDomainConfig is; a group or option the domain does not have is
NotFound.
"""

from typing import Mapping

from identity_api.changes import Kind

from .change_feed import Writer
from .errors import InvalidArgument, NotFound, PermissionDenied
from .store import Store
from .store.domain_config import ConfigOption

# Keystone's defaults for each option the API shows ([identity] and [ldap] of
# keystone.conf), which `/v3/domains/config/default` answers, and the LDAP options of
# ours (`allow_writes`, `membership_cache_ttl`; docs/ldap.md).
DEFAULTS: dict[str, dict[str, object]] = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": {
        "url": "ldap://localhost", "user": None, "suffix": "cn=example,cn=com",
        "query_scope": "one", "page_size": 0, "alias_dereferencing": "default",
        "debug_level": None, "chase_referrals": None, "user_tree_dn": None,
        "user_filter": None, "user_objectclass": "inetOrgPerson", "user_id_attribute": "cn",
        "user_name_attribute": "sn", "user_mail_attribute": "mail",
        "user_description_attribute": "description", "user_pass_attribute": "userPassword",
        "user_enabled_attribute": "enabled", "user_enabled_invert": False,
        "user_enabled_mask": 0, "user_enabled_default": "True",
        "user_attribute_ignore": ["default_project_id"],
        "user_default_project_id_attribute": None, "user_enabled_emulation": False,
        "user_enabled_emulation_dn": None, "user_enabled_emulation_use_group_config": False,
        "user_additional_attribute_mapping": [], "group_tree_dn": None, "group_filter": None,
        "group_objectclass": "groupOfNames", "group_id_attribute": "cn",
        "group_name_attribute": "ou", "group_members_are_ids": False,
        "group_member_attribute": "member", "group_desc_attribute": "description",
        "group_attribute_ignore": [], "group_additional_attribute_mapping": [],
        "tls_cacertfile": None, "tls_cacertdir": None, "use_tls": False,
        "tls_req_cert": "demand", "use_pool": True, "pool_size": 10, "pool_retry_max": 3,
        "pool_retry_delay": 0.1, "pool_connection_timeout": -1,
        "pool_connection_lifetime": 600, "use_auth_pool": True, "auth_pool_size": 100,
        "auth_pool_connection_lifetime": 60,
        # Keystone's, -1 there meaning no timeout; ours reads <= 0 as 5 s
        # (identity_grpc/ldap_settings.py, docs/ldap.md).
        "connection_timeout": -1,
        # Ours: writes to the directory (refused unless true), and how long a user's
        # groups may be served from memory, in seconds.
        "allow_writes": False, "membership_cache_ttl": 30,
    },
}
WHITELISTED: dict[str, tuple[str, ...]] = {g: tuple(opts) for g, opts in DEFAULTS.items()}
SENSITIVE: dict[str, tuple[str, ...]] = {"identity": (), "ldap": ("password",)}

Config = dict[str, dict[str, object]]


def _invalid(reason: str) -> PermissionDenied:
    return PermissionDenied(f"Invalid domain specific configuration: {reason}.")


def check_group_and_option(group: str = "", option: str = "") -> None:
    if group and group not in WHITELISTED:
        raise _invalid(f"Group {group} is not supported for domain specific configurations")
    if option and option not in WHITELISTED[group] + SENSITIVE[group]:
        raise _invalid(f"Option {option} in group {group} is not supported for domain "
                       "specific configurations")


def check_config(config) -> None:
    """A configuration given to create or update: groups of options, all supported."""
    if not isinstance(config, Mapping):
        raise InvalidArgument("config", f"{config!r} is not of type 'object'")
    if not config:
        raise _invalid("No options specified")
    for group, options in config.items():
        check_group_and_option(group)
        if not options or not isinstance(options, Mapping):
            raise _invalid(f"The value of group {group} specified in the config should be "
                           "a dictionary of options")
        for option in options:
            check_group_and_option(group, option)


def _as_options(config: Config) -> list[ConfigOption]:
    return [ConfigOption(group, option, value, option in SENSITIVE[group])
            for group, options in config.items() for option, value in options.items()]


def _as_config(options: list[ConfigOption]) -> Config:
    config: Config = {}
    for item in options:
        config.setdefault(item.group, {})[item.option] = item.value
    return config


def _not_found(domain_id: str, group: str = "", option: str = "") -> NotFound:
    what = (f"option {option} in group {group}" if option else
            f"group {group}" if group else "any options")
    return NotFound(f"Could not find {what} in the configuration of domain {domain_id}")


class DomainConfig:
    """Owns domains' configurations; the domain must exist (NotFound otherwise)."""

    def __init__(self, store: Store, writer: Writer, files=None):
        self._store = store
        self._writer = writer
        self._files = files  # DomainConfigFiles: `domain_config_dir`'s files, if any

    def _domain(self, domain_id: str) -> None:
        self._store.resources.get_domain(domain_id)

    def _shown(self, domain_id: str, group: str = "", option: str = "") -> list[ConfigOption]:
        return self._store.domain_config.options(domain_id, group, option, sensitive=False)

    def create(self, domain_id: str, config: Config) -> tuple[Config, bool]:
        """The domain's configuration becomes `config` (replacing any): what the API
        shows of it, and whether the domain had none before."""
        check_config(config)
        self._domain(domain_id)
        with self._writer.transaction() as tx:
            self._store.resources.lock_domain(domain_id)
            tx.changed(Kind.DOMAIN, domain_id)  # its identity backend may change
            created = not self._store.domain_config.options(domain_id)
            self._store.domain_config.delete(domain_id)
            self._store.domain_config.put(domain_id, _as_options(config))
            self._check_backend(domain_id)
        return _as_config(self._shown(domain_id)), created

    def _check_backend(self, domain_id: str) -> None:
        """An LDAP configuration is checked as it is written (in its transaction): a bad
        value is the writer's 400, not a failure of every later call about the domain."""
        config = _as_config(self._store.domain_config.options(domain_id))
        if (config.get("identity") or {}).get("driver") == "ldap":
            from .ldap_settings import LdapSettings  # it reads DEFAULTS from here
            LdapSettings.from_config(config)

    def get(self, domain_id: str, group: str = "", option: str = "") -> dict:
        """The shown options (never the sensitive ones): the whole configuration, one
        group's (`{group: {...}}`) or one option (`{option: value}`)."""
        check_group_and_option(group, option)
        self._domain(domain_id)
        shown = self._shown(domain_id, group, option)
        if not shown:
            raise _not_found(domain_id, group, option)
        if option:
            return {option: shown[0].value}
        return _as_config(shown)

    def update(self, domain_id: str, config: Config, group: str = "", option: str = "") -> Config:
        """Merge `config` into the domain's; with `group` (and `option`), only that
        group (option), which the domain must have and `config` must hold alone. The
        whole shown configuration after."""
        if group and option:
            if not isinstance(config, Mapping):
                raise InvalidArgument("config", f"{config!r} is not of type 'object'")
            config = {group: config}
        check_config(config)
        check_group_and_option(group, option)
        if group and (len(config) != 1 or group not in config
                      or (option and list(config[group]) != [option])):
            only = f"option {option} in group {group}" if option else f"group {group}"
            raise _invalid(f"Trying to update {only}, so that, and only that, "
                           f"{'option' if option else 'group'} must be specified in the config")
        self._domain(domain_id)
        with self._writer.transaction() as tx:
            self._store.resources.lock_domain(domain_id)
            tx.changed(Kind.DOMAIN, domain_id)  # its identity backend may change
            if group and not self._store.domain_config.options(domain_id, group, option):
                raise _not_found(domain_id, group, option)
            self._store.domain_config.put(domain_id, _as_options(config))
            self._check_backend(domain_id)
        return _as_config(self._shown(domain_id))

    def delete(self, domain_id: str, group: str = "", option: str = "") -> None:
        """Delete the whole configuration, a group of it or one option (which the
        domain must have)."""
        check_group_and_option(group, option)
        self._domain(domain_id)
        with self._writer.transaction() as tx:
            self._store.resources.lock_domain(domain_id)
            tx.changed(Kind.DOMAIN, domain_id)  # its identity backend may change
            deleted = self._store.domain_config.delete(domain_id, group, option)
            if group and not deleted:
                raise _not_found(domain_id, group, option)

    def defaults(self, group: str = "", option: str = "") -> dict:
        """Keystone's defaults of the shown options: all, one group's, or one option
        (never a sensitive one)."""
        check_group_and_option(group, option)
        if option:
            if option not in WHITELISTED[group]:
                raise _invalid(f"Reading the default for option {option} in group {group} "
                               "is not supported")
            return {option: DEFAULTS[group][option]}
        groups = [group] if group else list(DEFAULTS)
        return {g: dict(DEFAULTS[g]) for g in groups}

    def effective(self, domain_id: str) -> Config:
        """For internal use (a domain's identity backend): the domain's whole
        configuration, sensitive options included, and each shown string value with
        the sensitive options substituted where it names them (`%(password)s`, as
        Keystone does); a value naming none is left as it is. A domain with a file
        in `domain_config_dir` has that file's configuration instead."""
        if self._files is not None:
            domain = self._store.resources.find_domain(domain_id)
            from_file = self._files.config(domain.name) if domain is not None else None
            if from_file is not None:
                return from_file
        options = self._store.domain_config.options(domain_id)
        secrets = {o.option: o.value for o in options if o.sensitive}
        resolved = []
        for item in options:
            value = item.value
            if not item.sensitive and isinstance(value, str) and "%(" in value:
                try:
                    value = value % secrets
                except (KeyError, ValueError, TypeError):
                    pass  # an unmatched or malformed reference stays as written
            resolved.append(ConfigOption(item.group, item.option, value, item.sensitive))
        return _as_config(resolved)

    def changed_files(self) -> list[str]:
        """Ids of the domains whose configuration file appeared, changed or went away
        since the last call (the watcher's tick asks)."""
        if self._files is None:
            return []
        found = (self._store.resources.find_domain_by_name(n) for n in self._files.changed())
        return [d.id for d in found if d is not None]
