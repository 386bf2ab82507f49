"""The settings of one LDAP-backed domain's directory, read and checked once from the
domain's effective configuration (`DomainConfig.effective()`: `{"identity": {...},
"ldap": {...}}`).

Option names and defaults are Keystone's (`DEFAULTS["ldap"]` in domain_config.py), so
a Keystone domain configuration carries over unchanged; two options are ours:
`allow_writes` (default false: the directory is read-only, as most deployments keep
their corporate directory) and `membership_cache_ttl` (how long a user's groups may be
served from memory). Values arrive as JSON (or as the strings a keystone.conf-style
file holds), so booleans and numbers are accepted in either form. A bad value is
InvalidArgument naming the option (`ldap.page_size: ...`), raised here rather than on
the first request that needs it.
"""

import os
from dataclasses import dataclass

from .domain_config import DEFAULTS
from .errors import InvalidArgument

# Keystone's connection_timeout default (-1) means "wait for ever" in libldap: a
# directory that stops answering would hold a server thread indefinitely. We read
# <= 0 as this many seconds instead.
SAFE_CONNECTION_TIMEOUT = 5.0
SCOPES = ("one", "sub")
TLS_REQ_CERT = ("demand", "allow", "never")
URL_SCHEMES = ("ldap://", "ldaps://")


@dataclass(frozen=True)
class LdapSettings:
    """What `Directory` needs, checked; tree DNs defaulted from `suffix` as Keystone
    does (`ou=Users,<suffix>`, `ou=UserGroups,<suffix>`)."""

    urls: tuple[str, ...]
    user: str | None
    password: str | None
    suffix: str
    query_scope: str
    page_size: int
    user_tree_dn: str
    user_filter: str
    user_objectclass: str
    user_id_attribute: str
    user_name_attribute: str
    user_mail_attribute: str
    user_description_attribute: str
    user_pass_attribute: str
    user_enabled_attribute: str
    user_enabled_invert: bool
    user_enabled_mask: int
    user_enabled_default: str
    user_enabled_emulation: bool
    user_enabled_emulation_dn: str
    user_enabled_emulation_use_group_config: bool
    group_tree_dn: str
    group_filter: str
    group_objectclass: str
    group_id_attribute: str
    group_name_attribute: str
    group_member_attribute: str
    group_members_are_ids: bool
    group_desc_attribute: str
    use_tls: bool
    tls_cacertfile: str | None
    tls_cacertdir: str | None
    tls_req_cert: str
    connection_timeout: float
    pool_size: int
    allow_writes: bool
    membership_cache_ttl: float

    @property
    def url(self) -> str:
        """The URL list as libldap takes it (space separated: tried in order)."""
        return " ".join(self.urls)

    @property
    def wants_tls_options(self) -> bool:
        return self.use_tls or any(u.startswith("ldaps://") for u in self.urls)

    def check_schemes(self) -> None:
        """Checked when connecting, not when the configuration is written: Keystone
        stores any URL (Tempest writes an https:// one), so the API does too."""
        for url in self.urls:
            if not url.lower().startswith(URL_SCHEMES):
                raise InvalidArgument("ldap.url", f"{url!r} is neither ldap:// nor ldaps://")

    @classmethod
    def from_config(cls, config: dict) -> "LdapSettings":
        options = {**DEFAULTS["ldap"], "password": None, **(config.get("ldap") or {})}
        read = _Reader(options)
        suffix = read.text("suffix")
        urls = tuple(u.strip() for u in read.text("url").replace(" ", ",").split(",")
                     if u.strip())
        if not urls:
            raise InvalidArgument("ldap.url", "no URL given")
        use_tls = read.flag("use_tls")
        if use_tls and any(u.lower().startswith("ldaps://") for u in urls):
            raise InvalidArgument("ldap.use_tls", "StartTLS cannot be used with an ldaps:// "
                                  "URL (the connection is TLS already)")
        user_tree_dn = read.text("user_tree_dn", f"ou=Users,{suffix}")
        timeout = read.number("connection_timeout")
        return cls(
            urls=urls, user=read.optional("user"), password=read.optional("password"),
            suffix=suffix, query_scope=read.choice("query_scope", SCOPES),
            page_size=read.integer("page_size", minimum=0),
            user_tree_dn=user_tree_dn, user_filter=read.ldap_filter("user_filter"),
            user_objectclass=read.text("user_objectclass"),
            user_id_attribute=read.text("user_id_attribute"),
            user_name_attribute=read.text("user_name_attribute"),
            user_mail_attribute=read.text("user_mail_attribute"),
            user_description_attribute=read.text("user_description_attribute"),
            user_pass_attribute=read.text("user_pass_attribute"),
            user_enabled_attribute=read.text("user_enabled_attribute"),
            user_enabled_invert=read.flag("user_enabled_invert"),
            user_enabled_mask=read.integer("user_enabled_mask", minimum=0),
            user_enabled_default=str(read.value("user_enabled_default")),
            user_enabled_emulation=read.flag("user_enabled_emulation"),
            user_enabled_emulation_dn=read.text("user_enabled_emulation_dn",
                                                f"cn=enabled_users,{user_tree_dn}"),
            user_enabled_emulation_use_group_config=read.flag(
                "user_enabled_emulation_use_group_config"),
            group_tree_dn=read.text("group_tree_dn", f"ou=UserGroups,{suffix}"),
            group_filter=read.ldap_filter("group_filter"),
            group_objectclass=read.text("group_objectclass"),
            group_id_attribute=read.text("group_id_attribute"),
            group_name_attribute=read.text("group_name_attribute"),
            group_member_attribute=read.text("group_member_attribute"),
            group_members_are_ids=read.flag("group_members_are_ids"),
            group_desc_attribute=read.text("group_desc_attribute"),
            use_tls=use_tls, tls_cacertfile=read.path("tls_cacertfile", os.path.isfile),
            tls_cacertdir=read.path("tls_cacertdir", os.path.isdir),
            tls_req_cert=read.choice("tls_req_cert", TLS_REQ_CERT),
            connection_timeout=timeout if timeout > 0 else SAFE_CONNECTION_TIMEOUT,
            pool_size=read.integer("pool_size", minimum=1),
            allow_writes=read.flag("allow_writes"),
            membership_cache_ttl=read.number("membership_cache_ttl", minimum=0),
        )


class _Reader:
    """Typed reads of the options, each failure naming its option."""

    def __init__(self, options: dict):
        self._options = options

    def value(self, name: str):
        return self._options.get(name)

    def _bad(self, name: str, problem: str) -> InvalidArgument:
        return InvalidArgument(f"ldap.{name}", problem)

    def optional(self, name: str) -> str | None:
        value = self.value(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self._bad(name, f"{value!r} is not a string")
        return value

    def text(self, name: str, default: str | None = None) -> str:
        value = self.optional(name)
        if value is None:
            if default is None:
                raise self._bad(name, "a value is required")
            return default
        return value

    def ldap_filter(self, name: str) -> str:
        """An extra filter ANDed into every search, parenthesised if given bare."""
        value = (self.optional(name) or "").strip()
        if value and not value.startswith("("):
            value = f"({value})"
        if value.count("(") != value.count(")"):
            raise self._bad(name, f"{value!r} has unbalanced parentheses")
        return value

    def flag(self, name: str) -> bool:
        value = self.value(name)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("false", "no", "off", "0", ""):
            return False
        raise self._bad(name, f"{value!r} is not a boolean")

    def number(self, name: str, minimum: float | None = None) -> float:
        value = self.value(name)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise self._bad(name, f"{value!r} is not a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise self._bad(name, f"{value!r} is not a number")
        if minimum is not None and value < minimum:
            raise self._bad(name, f"{value!r} is below {minimum}")
        return float(value)

    def integer(self, name: str, minimum: int) -> int:
        value = self.value(name)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(name, f"{value!r} is not a whole number")
        if value < minimum:
            raise self._bad(name, f"{value!r} is below {minimum}")
        return value

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = self.value(name)
        if not isinstance(value, str) or value.lower() not in choices:
            raise self._bad(name, f"{value!r} is not one of {', '.join(choices)}")
        return value.lower()

    def path(self, name: str, exists) -> str | None:
        value = self.optional(name)
        if value is not None and not exists(value):
            raise self._bad(name, f"{value!r} does not exist")
        return value
