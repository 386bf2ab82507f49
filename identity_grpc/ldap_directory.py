"""One LDAP-backed domain's directory, read (and, where allowed, written) the way
Keystone's LDAP identity driver does: users and groups as plain records, passwords
checked by binding as the user, enabled computed from an attribute (with Keystone's
mask, invert and default) or emulated by membership of a group.

Independent of the store and the managers: it knows the domain only by its settings
(`LdapSettings`) and a name for messages, so the integration decides what a record
means for the domain (ids, tokens). Every method may raise `Unavailable` when the
directory cannot be reached or does not answer within `connection_timeout`
(ldap_connections.py); searches page through results with the paged-results control
when `page_size` > 0, since directories cap unpaged answers (often at 500 or 1,000).
Thread-safe: the only shared state is the bounded connection pool.
"""

import uuid
import ldap
import ldap.dn
import ldap.filter
from ldap.controls import SimplePagedResultsControl

from .errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from .ldap_connections import Connections, describe
from .ldap_entries import (EMPTY_GROUP_MEMBER, DirectoryGroup, DirectoryUser, decoded,
                           enabled_from, enabled_value, first, local_id_of, modlist,
                           normalized_dn, same_attribute, values_of)
from .ldap_settings import LdapSettings

__all__ = ["Directory", "DirectoryUser", "DirectoryGroup", "EMPTY_GROUP_MEMBER"]

_MUST_HAVE_MEMBER = ("groupofnames", "groupofuniquenames")
_PERSON_CLASSES = ("inetorgperson", "organizationalperson", "person")
# Base searches of a group's members are sent this many at a time before reading the
# answers, so a large group costs a few round trips rather than one per member.
_PIPELINE = 100


class Directory:
    """The directory of one domain. `close()` when done with it."""

    def __init__(self, settings: LdapSettings, domain: str = ""):
        self.settings = settings
        self.domain = domain or "(unnamed)"
        self._connections = Connections(settings, domain)
        self._scope = ldap.SCOPE_ONELEVEL if settings.query_scope == "one" else ldap.SCOPE_SUBTREE
        s = settings
        self._user_filter = f"(&(objectClass={s.user_objectclass}){s.user_filter})"
        self._group_filter = f"(&(objectClass={s.group_objectclass}){s.group_filter})"
        self._user_attrs = [s.user_id_attribute, s.user_name_attribute, s.user_mail_attribute,
                            s.user_description_attribute]
        if not s.user_enabled_emulation:
            self._user_attrs.append(s.user_enabled_attribute)
        self._group_attrs = [s.group_id_attribute, s.group_name_attribute,
                             s.group_desc_attribute]

    def close(self) -> None:
        self._connections.close()

    # Reading users.
    def users(self, name: str | None = None) -> list[DirectoryUser]:
        """Every user under user_tree_dn (matching user_filter), or those whose name
        is exactly `name` (escaped: `*` and `(` are matched literally)."""
        found = self._search(self.settings.user_tree_dn, self._users_where(
            self.settings.user_name_attribute, name), self._user_attrs)
        enabled_dns = self._emulation_members()
        return [self._user(dn, attrs, enabled_dns) for dn, attrs in found]

    def user(self, local_id: str) -> DirectoryUser:
        return self._one_user(self.settings.user_id_attribute, local_id)

    def user_by_name(self, name: str) -> DirectoryUser:
        return self._one_user(self.settings.user_name_attribute, name)

    def authenticate(self, user: DirectoryUser, password: str) -> bool:
        """Whether `password` is the user's: a simple bind as the user's DN, on a
        connection of its own (the pooled ones stay bound as the service user). An
        empty password is False without asking the directory, since LDAP would accept
        it as an unauthenticated bind. Enabled is not judged here."""
        return self._connections.bind_as(user.dn, password)

    # Reading groups.
    def groups(self, name: str | None = None) -> list[DirectoryGroup]:
        found = self._search(self.settings.group_tree_dn, self._groups_where(
            self.settings.group_name_attribute, name), self._group_attrs)
        return [self._group(dn, attrs) for dn, attrs in found]

    def group(self, local_id: str) -> DirectoryGroup:
        return self._one_group(self.settings.group_id_attribute, local_id)

    def group_by_name(self, name: str) -> DirectoryGroup:
        return self._one_group(self.settings.group_name_attribute, name)

    def groups_of_user(self, user: DirectoryUser) -> list[DirectoryGroup]:
        """The groups whose member attribute names the user (its DN, or its id with
        group_members_are_ids)."""
        s = self.settings
        member = user.local_id if s.group_members_are_ids else user.dn
        found = self._search(s.group_tree_dn, self._groups_where(s.group_member_attribute,
                                                                 member), self._group_attrs)
        return [self._group(dn, attrs) for dn, attrs in found]

    def members_of_group(self, group: DirectoryGroup) -> list[DirectoryUser]:
        """The users the group names (by DN, or by id with group_members_are_ids);
        members that are not users of this domain (outside user_tree_dn, not matching
        user_filter, gone, Keystone's dumb member) are left out."""
        s = self.settings
        values = self._run(lambda c: self._read(c, group.dn, [s.group_member_attribute]))
        members = values.get(s.group_member_attribute.lower(), []) if values else []
        enabled_dns = self._emulation_members()
        if s.group_members_are_ids:
            found = []
            for start in range(0, len(members), _PIPELINE):
                chunk = members[start:start + _PIPELINE]
                either = "".join(f"({s.user_id_attribute}={ldap.filter.escape_filter_chars(m)})"
                                 for m in chunk)
                found += self._search(s.user_tree_dn, f"(&{self._user_filter}(|{either}))",
                                      self._user_attrs)
        else:
            tree = "," + normalized_dn(s.user_tree_dn)
            dns = [m for m in members if normalized_dn(m).endswith(tree)]
            found = self._run(lambda c: self._read_many(c, dns))
        return [self._user(dn, attrs, enabled_dns) for dn, attrs in found]

    # Writing: each refused unless allow_writes.
    def create_user(self, name: str, password: str | None = None, email: str = "",
                    description: str = "", enabled: bool = True) -> DirectoryUser:
        """A user `<id attribute>=<id>,<user_tree_dn>`; the id is the name when the
        id and name attributes are the same, else a new UUID (as Keystone's)."""
        s = self._writable()
        if not name:
            raise InvalidArgument("name", "a user needs a name")
        same = same_attribute(s.user_id_attribute, s.user_name_attribute)
        local_id = name if same else uuid.uuid4().hex
        dn = f"{s.user_id_attribute}={ldap.dn.escape_dn_chars(local_id)},{s.user_tree_dn}"
        attrs = {"objectClass": [s.user_objectclass], s.user_id_attribute: [local_id],
                 s.user_name_attribute: [name]}
        if s.user_objectclass.lower() in _PERSON_CLASSES:
            for required in ("cn", "sn"):  # the person classes' MUST attributes
                attrs.setdefault(required, [name])
        if email:
            attrs[s.user_mail_attribute] = [email]
        if description:
            attrs[s.user_description_attribute] = [description]
        if not s.user_enabled_emulation and enabled != enabled_from(self.settings, None):
            attrs[s.user_enabled_attribute] = [enabled_value(self.settings, enabled, None)]
        self._write(lambda c: c.add_s(dn, modlist(attrs)), f"user {name}")
        user = DirectoryUser(local_id, dn, name, email, description, enabled)
        if password:
            self.set_password(local_id, password)
        if s.user_enabled_emulation and enabled:
            self._set_emulated(user, True)
        return user

    def update_user(self, local_id: str, **changes) -> DirectoryUser:
        """Change any of name, email, description, enabled, password."""
        s = self._writable()
        unknown = set(changes) - {"name", "email", "description", "enabled", "password"}
        if unknown:
            raise InvalidArgument(sorted(unknown)[0], "not a user attribute of the directory")
        user = self.user(local_id)
        if "name" in changes and same_attribute(s.user_id_attribute, s.user_name_attribute) \
                and changes["name"] != user.name:
            raise InvalidArgument("name", f"the name is the id ({s.user_id_attribute}) in "
                                  "this directory and cannot change")
        mods = []
        for key, attribute in (("name", s.user_name_attribute), ("email", s.user_mail_attribute),
                               ("description", s.user_description_attribute)):
            if key in changes:
                mods.append((ldap.MOD_REPLACE, attribute, values_of(changes[key])))
        if "enabled" in changes and not s.user_enabled_emulation:
            current = self._run(lambda c: self._read(c, user.dn, [s.user_enabled_attribute]))
            raw = (current or {}).get(s.user_enabled_attribute.lower(), [None])[0]
            mods.append((ldap.MOD_REPLACE, s.user_enabled_attribute,
                         values_of(enabled_value(self.settings, bool(changes["enabled"]), raw))))
        if mods:
            self._write(lambda c: c.modify_s(user.dn, mods), f"user {local_id}")
        if "enabled" in changes and s.user_enabled_emulation:
            self._set_emulated(user, bool(changes["enabled"]))
        if changes.get("password"):
            self.set_password(local_id, changes["password"])
        return self.user(local_id)

    def delete_user(self, local_id: str) -> None:
        """Delete the user and take it out of its groups (and the emulation group)."""
        self._writable()
        user = self.user(local_id)
        groups = self.groups_of_user(user)
        self._write(lambda c: c.delete_s(user.dn), f"user {local_id}")
        for group in groups:
            self._remove_value(group.dn, self._member_value(user), missing_ok=True)
        if self.settings.user_enabled_emulation:
            self._set_emulated(user, False)

    def set_password(self, local_id: str, password: str) -> None:
        """Through the Password Modify operation (RFC 3062), so the directory hashes
        it with its own scheme rather than storing what we send."""
        self._writable()
        if not password:
            raise InvalidArgument("password", "an empty password cannot be set")
        user = self.user(local_id)
        self._write(lambda c: c.passwd_s(user.dn, None, password), f"user {local_id}")

    def create_group(self, name: str, description: str = "") -> DirectoryGroup:
        s = self._writable()
        if not name:
            raise InvalidArgument("name", "a group needs a name")
        same = same_attribute(s.group_id_attribute, s.group_name_attribute)
        local_id = name if same else uuid.uuid4().hex
        dn = f"{s.group_id_attribute}={ldap.dn.escape_dn_chars(local_id)},{s.group_tree_dn}"
        attrs = {"objectClass": [s.group_objectclass], s.group_id_attribute: [local_id],
                 s.group_name_attribute: [name]}
        if description:
            attrs[s.group_desc_attribute] = [description]
        if s.group_objectclass.lower() in _MUST_HAVE_MEMBER:
            attrs[s.group_member_attribute] = [EMPTY_GROUP_MEMBER]
        self._write(lambda c: c.add_s(dn, modlist(attrs)), f"group {name}")
        return DirectoryGroup(local_id, dn, name, description)

    def update_group(self, local_id: str, **changes) -> DirectoryGroup:
        """Change the name or description."""
        s = self._writable()
        unknown = set(changes) - {"name", "description"}
        if unknown:
            raise InvalidArgument(sorted(unknown)[0], "not a group attribute of the directory")
        group = self.group(local_id)
        mods = [(ldap.MOD_REPLACE, attribute, values_of(changes[key]))
                for key, attribute in (("name", s.group_name_attribute),
                                       ("description", s.group_desc_attribute))
                if key in changes]
        if mods:
            self._write(lambda c: c.modify_s(group.dn, mods), f"group {local_id}")
        return self.group(local_id)

    def delete_group(self, local_id: str) -> None:
        self._writable()
        group = self.group(local_id)
        self._write(lambda c: c.delete_s(group.dn), f"group {local_id}")

    def add_member(self, group_id: str, user_id: str) -> None:
        """Idempotent: adding a member twice is no error."""
        self._writable()
        group, user = self.group(group_id), self.user(user_id)
        self._add_value(group.dn, self._member_value(user))

    def remove_member(self, group_id: str, user_id: str) -> None:
        """NotFound when the user is not a member."""
        self._writable()
        group, user = self.group(group_id), self.user(user_id)
        self._remove_value(group.dn, self._member_value(user), missing_ok=False,
                           what=f"user {user_id} in group {group_id}")

    # Searching.
    def _run(self, operation, what: str = ""):
        """`operation(conn)` on a pooled connection; the directory's refusals as our
        errors (its link failures are Unavailable already)."""
        try:
            return self._connections.run(operation)
        except ldap.ALREADY_EXISTS:
            raise AlreadyExists(f"{what} already exists in the LDAP directory of domain "
                                f"{self.domain}") from None
        except ldap.NO_SUCH_OBJECT:
            raise NotFound(f"Could not find {what} in the LDAP directory of domain "
                           f"{self.domain}") from None
        except ldap.LDAPError as e:
            action = f"to change {what}" if what else "the search"
            raise FailedPrecondition(f"the LDAP directory of domain {self.domain} refused "
                                     f"{action}: {describe(e)}") from None

    def _users_where(self, attribute: str, value: str | None) -> str:
        if value is None:
            return self._user_filter
        return f"(&{self._user_filter}({attribute}={ldap.filter.escape_filter_chars(value)}))"

    def _groups_where(self, attribute: str, value: str | None) -> str:
        if value is None:
            return self._group_filter
        return f"(&{self._group_filter}({attribute}={ldap.filter.escape_filter_chars(value)}))"

    def _search(self, base: str, where: str, attrs: list[str]) -> list[tuple[str, dict]]:
        return self._run(lambda conn: self._search_on(conn, base, where, attrs))

    def _search_on(self, conn, base: str, where: str, attrs: list[str]):
        """Every entry, page after page with the paged-results control when
        page_size > 0; attributes keyed in lower case, values decoded. A base that
        does not exist holds nothing."""
        page_size = self.settings.page_size
        control = SimplePagedResultsControl(True, size=page_size, cookie=b"")
        entries = []
        try:
            while True:
                msgid = conn.search_ext(base, self._scope, where, attrs,
                                        serverctrls=[control] if page_size else None)
                _, data, _, controls = conn.result3(msgid, timeout=conn.timeout)
                entries += [(dn, decoded(a)) for dn, a in data if dn]
                cookie = next((c.cookie for c in controls or ()
                               if c.controlType == SimplePagedResultsControl.controlType), b"")
                if not page_size or not cookie:
                    return entries
                control.cookie = cookie
        except ldap.NO_SUCH_OBJECT:
            return entries

    def _read(self, conn, dn: str, attrs: list[str]) -> dict | None:
        try:
            found = conn.search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)", attrs)
        except ldap.NO_SUCH_OBJECT:
            return None
        return decoded(found[0][1]) if found else None

    def _read_many(self, conn, dns: list[str]) -> list[tuple[str, dict]]:
        """The entries at `dns` that are users, asked in pipelined batches."""
        entries = []
        for start in range(0, len(dns), _PIPELINE):
            ids = [conn.search_ext(dn, ldap.SCOPE_BASE, self._user_filter, self._user_attrs)
                   for dn in dns[start:start + _PIPELINE]]
            for msgid in ids:
                try:
                    _, data = conn.result(msgid, all=1, timeout=conn.timeout)
                except (ldap.NO_SUCH_OBJECT, ldap.INVALID_DN_SYNTAX):
                    continue
                entries += [(dn, decoded(a)) for dn, a in data if dn]
        return entries

    def _one_user(self, attribute: str, value: str) -> DirectoryUser:
        found = self._search(self.settings.user_tree_dn, self._users_where(attribute, value),
                             self._user_attrs)
        if len(found) != 1:
            raise self._not_one("user", attribute, value, len(found))
        return self._user(*found[0], self._emulation_members())

    def _one_group(self, attribute: str, value: str) -> DirectoryGroup:
        found = self._search(self.settings.group_tree_dn, self._groups_where(attribute, value),
                             self._group_attrs)
        if len(found) != 1:
            raise self._not_one("group", attribute, value, len(found))
        return self._group(*found[0])

    def _not_one(self, kind: str, attribute: str, value: str, count: int):
        if not count:
            return NotFound(f"Could not find {kind} with {attribute}={value} in the LDAP "
                            f"directory of domain {self.domain}")
        return FailedPrecondition(f"{count} {kind}s have {attribute}={value} in the LDAP "
                                  f"directory of domain {self.domain}")

    # Records.
    def _user(self, dn: str, attrs: dict, enabled_dns: set[str] | None) -> DirectoryUser:
        s = self.settings
        local_id = local_id_of(dn, attrs, s.user_id_attribute)
        if not s.user_enabled_emulation:
            enabled = enabled_from(s, first(attrs, s.user_enabled_attribute) or None)
        elif self._emulation_by_id():
            enabled = local_id in enabled_dns
        else:
            enabled = normalized_dn(dn) in enabled_dns
        return DirectoryUser(
            local_id=local_id, dn=dn,
            name=first(attrs, s.user_name_attribute), email=first(attrs, s.user_mail_attribute),
            description=first(attrs, s.user_description_attribute), enabled=enabled)

    def _group(self, dn: str, attrs: dict) -> DirectoryGroup:
        s = self.settings
        return DirectoryGroup(local_id=local_id_of(dn, attrs, s.group_id_attribute), dn=dn,
                              name=first(attrs, s.group_name_attribute),
                              description=first(attrs, s.group_desc_attribute))

    def _emulation_by_id(self) -> bool:
        s = self.settings
        return s.user_enabled_emulation_use_group_config and s.group_members_are_ids

    def _emulation_member_attribute(self) -> str:
        s = self.settings
        return s.group_member_attribute if s.user_enabled_emulation_use_group_config else "member"

    def _emulation_members(self) -> set[str] | None:
        """With user_enabled_emulation, who the emulation group holds (normalised DNs,
        or ids); the group missing means nobody is enabled."""
        if not self.settings.user_enabled_emulation:
            return None
        attribute = self._emulation_member_attribute()
        entry = self._run(lambda c: self._read(c, self.settings.user_enabled_emulation_dn,
                                               [attribute]))
        values = (entry or {}).get(attribute.lower(), [])
        return set(values) if self._emulation_by_id() else {normalized_dn(v) for v in values}

    def _set_emulated(self, user: DirectoryUser, enabled: bool) -> None:
        s = self.settings
        value = user.local_id if self._emulation_by_id() else user.dn
        dn, attribute = s.user_enabled_emulation_dn, self._emulation_member_attribute()
        if not enabled:
            self._remove_value(dn, value, missing_ok=True, attribute=attribute)
            return
        exists = self._run(lambda c: self._read(c, dn, ["objectClass"])) is not None
        if exists:
            self._add_value(dn, value, attribute=attribute)
            return
        rdn_attribute, rdn_value, _ = ldap.dn.str2dn(dn)[0][0]
        objectclass = s.group_objectclass if s.user_enabled_emulation_use_group_config \
            else "groupOfNames"
        attrs = {"objectClass": [objectclass], rdn_attribute: [rdn_value], attribute: [value]}
        self._write(lambda c: c.add_s(dn, modlist(attrs)), "the enabled users' group")

    # Writing.
    def _writable(self) -> LdapSettings:
        if not self.settings.allow_writes:
            raise FailedPrecondition(
                "the LDAP identity backend of this domain is read-only (its ldap.allow_writes "
                f"is false): domain {self.domain}")
        return self.settings

    def _write(self, operation, what: str):
        return self._run(operation, what)

    def _member_value(self, user: DirectoryUser) -> str:
        return user.local_id if self.settings.group_members_are_ids else user.dn

    def _add_value(self, dn: str, value: str, attribute: str | None = None) -> None:
        """Add a member value (none if there already), and drop the dumb member."""
        attribute = attribute or self.settings.group_member_attribute

        def add(conn):
            try:
                conn.modify_s(dn, [(ldap.MOD_ADD, attribute, values_of(value))])
            except ldap.TYPE_OR_VALUE_EXISTS:
                return
            try:
                conn.modify_s(dn, [(ldap.MOD_DELETE, attribute, values_of(EMPTY_GROUP_MEMBER))])
            except (ldap.NO_SUCH_ATTRIBUTE, ldap.UNDEFINED_TYPE):
                pass
        self._write(add, dn)

    def _remove_value(self, dn: str, value: str, missing_ok: bool, what: str = "",
                      attribute: str | None = None) -> None:
        """Remove a member value; the last one leaves the dumb member in its place
        (a groupOfNames cannot be empty)."""
        attribute = attribute or self.settings.group_member_attribute
        delete = (ldap.MOD_DELETE, attribute, values_of(value))

        def remove(conn) -> bool:
            try:
                conn.modify_s(dn, [delete])
            except (ldap.NO_SUCH_ATTRIBUTE, ldap.NO_SUCH_OBJECT):
                return False
            except ldap.OBJECT_CLASS_VIOLATION:
                dumb = (ldap.MOD_ADD, attribute, values_of(EMPTY_GROUP_MEMBER))
                conn.modify_s(dn, [delete, dumb])
            return True
        if not self._write(remove, dn) and not missing_ok:
            raise NotFound(f"Could not find {what} in the LDAP directory of domain "
                           f"{self.domain}")
