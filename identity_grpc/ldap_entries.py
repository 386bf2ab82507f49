"""What the directory's entries become: the plain records `Directory` returns, the
conversions between LDAP attribute values and Python ones, and Keystone's rules for
a user's enabled state (ldap_directory.py uses them; they hold no connection)."""

from dataclasses import dataclass

import ldap.dn

from .ldap_settings import LdapSettings

# A groupOfNames must have a member: an empty group holds Keystone's dumb member,
# which no user is and which members_of_group never returns.
EMPTY_GROUP_MEMBER = "cn=dumb,dc=nonexistent"


@dataclass(frozen=True)
class DirectoryUser:
    """A user entry: `local_id` is its id attribute's value (unique within the
    directory, which is what the integration maps to a service-wide id)."""

    local_id: str
    dn: str
    name: str
    email: str
    description: str
    enabled: bool


@dataclass(frozen=True)
class DirectoryGroup:
    """A group entry; `local_id` is its id attribute's value."""

    local_id: str
    dn: str
    name: str
    description: str


def normalized_dn(dn: str) -> str:
    """A DN in one spelling (attribute types and values lower case, no spaces), for
    comparing DNs that LDAP treats as equal."""
    try:
        return ldap.dn.dn2str([[(a.lower(), v.lower(), f) for a, v, f in rdn]
                               for rdn in ldap.dn.str2dn(dn)])
    except ldap.DECODING_ERROR:
        return dn.lower()


def is_true(value: str) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def enabled_from(s: LdapSettings, raw: str | None) -> bool:
    """From the enabled attribute's value (None: absent, so user_enabled_default):
    with a mask, enabled unless all the mask's bits are set (AD's
    userAccountControl, mask 2); else a boolean, inverted with
    user_enabled_invert."""
    value = s.user_enabled_default if raw is None else raw
    if s.user_enabled_mask:
        try:
            number = int(value)
        except ValueError:
            number = 0
        return (number & s.user_enabled_mask) != s.user_enabled_mask
    return not is_true(value) if s.user_enabled_invert else is_true(value)


def enabled_value(s: LdapSettings, enabled: bool, raw: str | None) -> str:
    """The attribute value that makes the user `enabled`, from its current `raw`."""
    if s.user_enabled_mask:
        try:
            number = int(s.user_enabled_default if raw is None else raw)
        except ValueError:
            number = 0
        number = number & ~s.user_enabled_mask if enabled else number | s.user_enabled_mask
        return str(number)
    stored = (not enabled) if s.user_enabled_invert else enabled
    return "TRUE" if stored else "FALSE"


def same_attribute(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def values_of(value) -> list[bytes] | None:
    """An attribute's new values; "" or None removes it."""
    if value is None or value == "":
        return None
    return [str(value).encode()]


def modlist(attrs: dict) -> list[tuple[str, list[bytes]]]:
    return [(name, [v.encode() for v in values]) for name, values in attrs.items()]


def decoded(attrs: dict) -> dict[str, list[str]]:
    return {name.lower(): [v.decode("utf-8", "replace") for v in values]
            for name, values in attrs.items()}


def first(attrs: dict, attribute: str) -> str:
    values = attrs.get(attribute.lower())
    return values[0] if values else ""


def local_id_of(dn: str, attrs: dict, id_attribute: str) -> str:
    """The id attribute's value: the one in the DN's first RDN when the id attribute
    names it (a multi-valued cn has one value that is the entry's name), else its
    first value."""
    try:
        for attribute, value, _ in ldap.dn.str2dn(dn)[0]:
            if same_attribute(attribute, id_attribute):
                return value
    except (ldap.DECODING_ERROR, IndexError):
        pass
    return first(attrs, id_attribute)
