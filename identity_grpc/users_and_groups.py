"""Users and groups: users, their passwords (with the security-compliance rules), groups and
group membership.

Every change that could take rights away from a token (disabling or deleting a user,
removing a membership, changing a password) records a change for the caches, and
disabling or deleting a user or changing its password also revokes its tokens, so
they stay refused if the user comes back.
"""

import json
import time
from typing import Callable

import peewee as pw
from identity_api.revocation import Revocation

from identity_api.changes import Kind

from . import user_options
from .errors import FailedPrecondition, InvalidArgument, NotFound, Unauthenticated
from .login_throttle import LoginThrottle
from .passwords import DAY, PasswordRules, Passwords
from .quotas import DomainQuotas
from .store import Store
from .change_feed import PendingWrites, Writer
from .directory_identity import DirectoryGroupRow, DirectoryIdentity, DirectoryUserRow, with_domain
from .validation import MAX_EMAIL_LENGTH, check_name, check_text, check_named_changes

PASSWORD_EXPIRED = "the password has expired: change it with ChangePassword"
# One answer for an unknown user, a disabled one and a wrong original password.
ORIGINAL_REFUSED = "original_password: not accepted"

# Rows of the store's tables, as its concept stores return them: read here, changed
# only through the stores.
User = Group = Password = pw.Model


class UsersAndGroups:
    """Owns users (with their passwords and lockout) and groups (with membership);
    promises that a change taking rights away revokes or invalidates at once."""

    def __init__(self, store: Store, writer: Writer, passwords: Passwords, max_token_lifetime: int,
                 rules: PasswordRules = PasswordRules(), clock: Callable[[], float] = time.time,
                 quotas: DomainQuotas = DomainQuotas(),
                 throttle: LoginThrottle | None = None,
                 directories: DirectoryIdentity | None = None):
        self._store = store
        # Domains whose users and groups a directory keeps (LDAP): asked first.
        self._directories = directories
        self._writer = writer
        self._passwords = passwords
        self._max_token_lifetime = max_token_lifetime
        self._rules = rules
        self._clock = clock
        self._quotas = quotas
        self._throttle = throttle or LoginThrottle(0, 0, 1, clock)

    def _now(self) -> int:
        return int(self._clock())

    # ---- lookups -----------------------------------------------------------

    def _directory(self, domain_id: str):
        """The domain's directory client, or None when the store keeps its users."""
        return self._directories.directory(domain_id) if self._directories else None

    def _directory_user(self, user_id: str):
        """The directory's user behind the id (None: gone from it), or False for an
        id the store keeps."""
        return self._directories.user(user_id) if self._directories else False

    def _directory_group(self, group_id: str):
        return self._directories.group(group_id) if self._directories else False

    def find_user(self, user_id: str = "", name: str = "", domain_id: str = "") -> User | None:
        if user_id:
            found = self._directory_user(user_id)
            return self._store.users.find(user_id) if found is False else found
        directory = self._directory(domain_id)
        if directory is not None:
            return self._directories.user_by_name(directory, domain_id, name)
        return self._store.users.find_by_name(domain_id, name)

    def find_with_domain(self, user_id: str):
        """The user with its domain (`user.domain`), or None: what authentication and
        scope checks need, both enabled flags, at once."""
        found = self._directory_user(user_id)
        if found is False:
            return self._store.users.find_with_domain(user_id)
        if found is None:
            return None
        domain = self._store.resources.find_domain(found.domain_id)
        return None if domain is None else with_domain(found, domain)

    def get_user(self, user_id: str) -> User:
        found = self._directory_user(user_id)
        if found is False:
            return self._store.users.get(user_id)
        if found is None:
            raise NotFound(f"user {user_id} not found")
        return found

    def list_users(self, name: str = "", domain_id: str = "", enabled: bool | None = None,
                   page_size: int = 0, page_token: str = "") -> tuple[list[User], str]:
        """Without a domain, the store's users only: a directory is listed when its
        domain is named (as Keystone's domain-specific drivers are)."""
        directory = self._directory(domain_id)
        if directory is not None:
            return _page(self._directories.users(directory, domain_id, name, enabled),
                         page_size, page_token)
        return self._store.users.list_page(name, domain_id, enabled, page_size, page_token)

    def is_directory_user(self, user) -> bool:
        """Whether the user is a directory's (LDAP): the security-compliance rules and
        the store's passwords are not its."""
        return isinstance(user, DirectoryUserRow)

    def password_hash(self, user_id: str) -> Password | None:
        return self._store.users.latest_password(user_id)

    def group_ids(self, user_id: str) -> list[str]:
        if self._directories is not None:
            found = self._directories.group_ids(user_id)
            if found is not None:
                return found
        return self._store.groups.group_ids_of(user_id)

    # ---- passwords ---------------------------------------------------------

    def login_slot(self):
        """A place among the login password checks (see `Passwords.login_slot`)."""
        return self._passwords.login_slot()

    def check_password(self, user: User | None, password: str, source: str | None = None,
                       claimed: str = "") -> bool:
        """Verify, spending the same time whether or not the user exists; count
        failures towards lockout; rehash when the hashing parameters have changed.
        A locked-out user fails even with the right password. An expired password
        that matches raises Unauthenticated saying so.

        `source` is the client's address (None: a call from inside the server) and
        `claimed` the user as the client named it; a source that failed too often
        for that user, or at all, is refused with ResourceExhausted before anything
        is checked, as is any check past the hashing queue's bound."""
        attempt = self._throttle.admit(source, user.id if user is not None else claimed)
        try:
            if isinstance(user, DirectoryUserRow):  # a bind; the directory's own rules
                # The hash an unknown user's check spends, spent here too: an unknown
                # name in the domain must not answer faster than a wrong password.
                self._passwords.verify(None, password)
                matched = bool(password) and self._directories.authenticate(user, password)
            else:
                matched = self._verify(user, password)
        except Unauthenticated:  # the right password, expired
            attempt.succeeded()
            raise
        except BaseException:  # shed, or the store failed: nothing was decided
            attempt.cancelled()
            raise
        if matched:
            attempt.succeeded()
        return matched

    def _verify(self, user: User | None, password: str) -> bool:
        stored = self.password_hash(user.id) if user is not None else None
        ok = self._passwords.verify(stored.hash if stored else None, password)
        if user is None:
            return False
        now = self._now()
        exempt = user_options.ignores_lockout(user.options)
        if not exempt and self._rules.locked(user.failed_auth_count, user.failed_auth_at, now):
            return False
        if not ok:
            if not exempt and self._rules.lockout_failure_attempts:
                self._count_failure(user, now)
            return False
        if user.failed_auth_count:
            self._store.users.reset_failures(user.id)
        if stored.expires_at is not None and now >= stored.expires_at:
            raise Unauthenticated(PASSWORD_EXPIRED)
        if self._passwords.needs_rehash(stored.hash):
            self._store.users.rehash_password(stored.id, self._passwords.hash(password))
        return True

    def _count_failure(self, user: User, now: int) -> None:
        """Count one failure: compare-and-set on the row, so that concurrent failures
        each count, on every backend (see `UserStore.set_failures_if`)."""
        count, since = user.failed_auth_count, user.failed_auth_at
        for _ in range(5):
            after = self._rules.after_failure(count, since, now)
            if self._store.users.set_failures_if(user.id, (count, since), after):
                return
            row = self._store.users.find(user.id)
            if row is None:
                return
            count, since = row.failed_auth_count, row.failed_auth_at

    def change_password(self, user_id: str, original: str, new: str,
                        source: str | None = None) -> None:
        """A user's own change: proves the current password (an expired one is
        accepted: changing it is what it is for), obeys minimum age. Needs no token:
        an unknown user, a disabled one and a wrong original password get the same
        Unauthenticated, after the same work, and count towards the throttles."""
        if not user_id:
            raise InvalidArgument("user_id", "is required")
        with self.login_slot():
            user = self.find_user(user_id=user_id)
            try:
                matches = self.check_password(user, original, source, claimed=user_id)
            except Unauthenticated:
                matches = True  # an expired password is exactly what a change is for
        if not matches or not user.enabled:
            raise Unauthenticated(ORIGINAL_REFUSED)
        if isinstance(user, DirectoryUserRow):  # the directory's rules, not ours
            self._directories.set_password(user_id, new)
            self._revoke_user_tokens(user_id)
            return
        current = self.password_hash(user_id)
        min_age = self._rules.minimum_age_days * DAY
        if current and min_age and self._now() < current.created_at + min_age:
            raise FailedPrecondition(
                f"the password was changed less than {self._rules.minimum_age_days} day(s) ago")
        self.set_password(user_id, new)

    def set_password(self, user_id: str, password: str) -> None:
        """Store a new password (pattern and history checked) and revoke the user's
        tokens, since whoever knew the old one may hold them."""
        if self._directory_user(user_id) is not False:
            self._directories.set_password(user_id, password)
            self._revoke_user_tokens(user_id)
            return
        hashed = self._checked_hash(user_id, password)
        with self._writer.transaction() as tx:
            self._store_password(tx, user_id, hashed)

    def _checked_hash(self, user_id: str, password: str, own_change: bool = True) -> str:
        """The history applies to a user's own change only: an admin's reset may give
        back a recent password, as Keystone's does (Tempest's
        test_password_history_not_enforced_in_admin_reset)."""
        self._rules.check_pattern(password)
        history = self._rules.unique_last_count if own_change else 0
        if history:
            recent = self._store.users.recent_passwords(user_id, history)
            if any(self._passwords.verify(p.hash, password, shed=False) for p in recent):
                raise InvalidArgument("password", f"must differ from the last {history} passwords")
        return self._passwords.hash(password)

    def _store_password(self, tx: PendingWrites, user_id: str, hashed: str) -> None:
        now = self._now()
        self._store.users.add_password(user_id, hashed, now, self._rules.expiry_for(now))
        tx.changed(Kind.USER, user_id)
        tx.revoke(self._user_cutoff(user_id))  # every token issued before this millisecond

    def password_expiries(self, user_ids) -> dict[str, int | None]:
        """When each user's current password expires (None: never, or no password), in
        one query however many users: what a page of users shows."""
        return self._store.users.password_expiries(user_ids)

    # ---- users ---------------------------------------------------------------

    def create_user(self, name: str, domain_id: str, password: str | None = None,
                    email: str = "", description: str = "", enabled: bool = True,
                    default_project_id: str | None = None, extra: dict | None = None,
                    options: dict | None = None) -> User:
        check_name("user.name", name)
        _check_user_text(email=email, description=description)
        options_json = user_options.merged("{}", options)
        self._check_domain(domain_id)
        directory = self._directory(domain_id)
        if directory is not None:
            return self._directories.create_user(directory, domain_id, name, password, email,
                                                 description, enabled)
        self._check_project(default_project_id)
        if password:
            self._rules.check_pattern(password)
        hashed = self._passwords.hash(password) if password else None
        now = self._now()
        with self._writer.unique(f"a user named {name!r} already exists in domain {domain_id}") as tx:
            self._quotas.check("users", domain_id, self._store)
            user = self._store.users.create(
                name, domain_id, email=email, description=description, enabled=enabled,
                default_project=default_project_id or None, extra=_extra_json(extra),
                options=options_json)
            if hashed:
                self._store.users.add_password(user.id, hashed, now, self._rules.expiry_for(now))
            tx.changed(Kind.USER, user.id)
        return user

    def update_user(self, user_id: str, password: str | None = None, merge_extra: bool = False,
                    **changes) -> User:
        """Change the named fields; `extra` replaces the extra attributes, or with
        `merge_extra` is merged into them (a None value removing its key); `options`
        changes the user options it names. Both merges read the row inside the writing
        transaction (locked on PostgreSQL and MariaDB; SQLite's transactions take the
        write lock as they begin), so two concurrent merges both survive. Enabling a
        user (even one already enabled) also unlocks it, as in Keystone: its count of
        failed attempts starts over."""
        user = self.get_user(user_id)
        if isinstance(user, DirectoryUserRow):
            return self._update_directory_user(user, password, changes)
        if "name" in changes:
            check_name("user.name", changes["name"])
        _check_user_text(**{k: v for k, v in changes.items() if k in ("email", "description")})
        if "default_project_id" in changes:
            project_id = changes.pop("default_project_id") or None
            self._check_project(project_id)
            changes["default_project"] = project_id
        if "extra" in changes:  # checked now; merged below, in the transaction
            checked = _extra_json({k: v for k, v in (changes["extra"] or {}).items()
                                   if v is not None or not merge_extra})
            if not merge_extra:
                changes["extra"] = checked
        if "options" in changes:
            user_options.merged("{}", changes["options"])
        if changes.get("enabled") is True:
            changes.update(failed_auth_count=0, failed_auth_at=None)
        # Checked before anything is written, and written in one transaction with the
        # other fields: an update applies whole or not at all.
        hashed = (self._checked_hash(user_id, password, own_change=False)
                  if password is not None else None)
        if changes or hashed is not None:
            conflict = f"a user named {changes.get('name')!r} already exists in domain {user.domain_id}"
            was_enabled = []

            def change(row: User) -> dict:
                was_enabled.append(row.enabled)
                _merge_into(changes, row, merge_extra)
                return changes

            with self._writer.unique(conflict) as tx:
                self._store.users.update(user_id, change)
                tx.changed(Kind.USER, user_id)
                if changes.get("enabled") is False and was_enabled[-1]:
                    tx.revoke(self._user_cutoff(user_id))
                if hashed is not None:
                    self._store_password(tx, user_id, hashed)
        return self.get_user(user_id)

    def _update_directory_user(self, user: DirectoryUserRow, password: str | None,
                               changes: dict) -> DirectoryUserRow:
        if "name" in changes:
            check_name("user.name", changes["name"])
        _check_user_text(**{k: v for k, v in changes.items() if k in ("email", "description")})
        unsupported = set(changes) - {"name", "email", "description", "enabled"}
        if unsupported:
            raise InvalidArgument(sorted(unsupported)[0], "is not kept for the users of an "
                                  "LDAP-backed domain")
        if changes:
            self._directories.update_user(user.id, **changes)
        if password is not None:
            self._directories.set_password(user.id, password)
        if password is not None or changes.get("enabled") is False:
            self._revoke_user_tokens(user.id)
        elif changes:
            with self._writer.transaction() as tx:
                tx.changed(Kind.USER, user.id)
        return self.get_user(user.id)

    def set_user_enabled(self, user_id: str, enabled: bool) -> None:
        self.update_user(user_id, enabled=enabled)

    def delete_user(self, user_id: str) -> None:
        """Deletes the user with its passwords, memberships, API keys and role
        assignments, and revokes its tokens."""
        if isinstance(self.get_user(user_id), DirectoryUserRow):
            self._directories.delete_user(user_id)  # refused when read-only
        with self._writer.transaction() as tx:
            self._store.assignments.delete_for_actor("user", user_id)
            for key_id in self._store.credentials.ids_for_user(user_id):
                tx.changed(Kind.API_KEY, key_id)
            self._store.users.delete(user_id)
            tx.changed(Kind.USER, user_id)
            tx.revoke(self._user_cutoff(user_id))

    # ---- groups --------------------------------------------------------------

    def get_group(self, group_id: str) -> Group:
        found = self._directory_group(group_id)
        if found is False:
            return self._store.groups.get(group_id)
        if found is None:
            raise NotFound(f"group {group_id} not found")
        return found

    def find_group(self, name: str, domain_id: str) -> Group | None:
        directory = self._directory(domain_id)
        if directory is not None:
            return self._directories.group_by_name(directory, domain_id, name)
        return self._store.groups.find_by_name(domain_id, name)

    def list_groups(self, name: str = "", domain_id: str = "", page_size: int = 0,
                    page_token: str = "") -> tuple[list[Group], str]:
        directory = self._directory(domain_id)
        if directory is not None:
            return _page(self._directories.groups(directory, domain_id, name),
                         page_size, page_token)
        return self._store.groups.list_page(name, domain_id, page_size, page_token)

    def create_group(self, name: str, domain_id: str, description: str = "") -> Group:
        check_name("group.name", name)
        check_text("group.description", description)
        self._check_domain(domain_id)
        directory = self._directory(domain_id)
        if directory is not None:
            return self._directories.create_group(directory, domain_id, name, description)
        with self._writer.unique(f"a group named {name!r} already exists in domain {domain_id}") as tx:
            self._quotas.check("groups", domain_id, self._store)
            group = self._store.groups.create(name, domain_id, description)
            tx.changed(Kind.GROUP, group.id)
        return group

    def update_group(self, group_id: str, **changes) -> Group:
        group = self.get_group(group_id)
        if not changes:
            return group  # nothing to write: an UPDATE with no column is no statement
        check_named_changes("group", changes)
        if isinstance(group, DirectoryGroupRow):
            self._directories.update_group(group_id, **changes)
            return self.get_group(group_id)
        conflict = f"a group named {changes.get('name')!r} already exists in domain {group.domain_id}"
        with self._writer.unique(conflict) as tx:
            self._store.groups.set_fields(group, **changes)
            tx.changed(Kind.GROUP, group_id)
        return self.get_group(group_id)

    def delete_group(self, group_id: str) -> None:
        """Deletes the group with its memberships and assignments; its members lose
        the roles it gave them at once."""
        group = self.get_group(group_id)
        if isinstance(group, DirectoryGroupRow):
            members = [u.id for u in self._directories.members(group)]
            self._directories.delete_group(group_id)  # refused when read-only
            with self._writer.transaction() as tx:
                self._store.assignments.delete_for_actor("group", group_id)
                tx.changed(Kind.GROUP, group_id)
                for user_id in members:
                    tx.changed(Kind.USER, user_id)
            return
        with self._writer.transaction() as tx:
            self._store.assignments.delete_for_actor("group", group_id)
            members = self._store.groups.member_ids(group_id)
            self._store.groups.delete(group_id)
            tx.changed(Kind.GROUP, group_id)
            for user_id in members:
                tx.changed(Kind.USER, user_id)

    def add_user_to_group(self, user_id: str, group_id: str) -> None:
        user, group = self.get_user(user_id), self.get_group(group_id)
        if isinstance(group, DirectoryGroupRow) or isinstance(user, DirectoryUserRow):
            self._change_directory_membership(user, group, add=True)
            return
        with self._writer.transaction() as tx:
            self._store.groups.add_member(user_id, group_id)
            tx.changed(Kind.USER, user_id)

    def remove_user_from_group(self, user_id: str, group_id: str) -> None:
        if self._directory_group(group_id) is not False or \
                self._directory_user(user_id) is not False:
            self._change_directory_membership(self.get_user(user_id), self.get_group(group_id),
                                              add=False)
            return
        with self._writer.transaction() as tx:
            if not self._store.groups.remove_member(user_id, group_id):
                raise NotFound(f"user {user_id} is not a member of group {group_id}")
            tx.changed(Kind.USER, user_id)

    def _change_directory_membership(self, user, group, add: bool) -> None:
        """Membership of a directory's group is the directory's (refused when it is
        read-only); a store user never joins a directory group, nor the reverse."""
        if not (isinstance(group, DirectoryGroupRow) and isinstance(user, DirectoryUserRow)
                and user.domain_id == group.domain_id):
            self._directories.writable(self._directory(group.domain_id) or
                                       self._directory(user.domain_id), group.domain_id)
            raise InvalidArgument("group_id", f"user {user.id} and group {group.id} are not "
                                  "in the same LDAP-backed domain")
        self._directories.change_membership(user.id, group.id, add)
        with self._writer.transaction() as tx:
            tx.changed(Kind.USER, user.id)

    def is_member(self, user_id: str, group_id: str) -> bool:
        if self._directory_user(user_id) is not False:
            return group_id in self.group_ids(user_id)
        return self._store.groups.is_member(user_id, group_id)

    def group_members(self, group_id: str, limit: int | None = None) -> list[User]:
        """The group's members by name; the first `limit` of them when given."""
        group = self.get_group(group_id)
        if isinstance(group, DirectoryGroupRow):
            return self._directories.members(group)[:limit]
        return self._store.groups.members(group_id, limit)

    def user_groups(self, user_id: str, limit: int | None = None) -> list[Group]:
        """The user's groups by name; the first `limit` of them when given."""
        user = self.get_user(user_id)
        if isinstance(user, DirectoryUserRow):
            return self._directories.groups_of_user(user)[:limit]
        return self._store.groups.groups_of(user_id, limit)

    # ---- helpers ---------------------------------------------------------------

    def _revoke_user_tokens(self, user_id: str) -> None:
        with self._writer.transaction() as tx:
            tx.changed(Kind.USER, user_id)
            tx.revoke(self._user_cutoff(user_id))

    def _user_cutoff(self, user_id: str) -> Revocation:
        """Every token of the user issued before now (by the clock tokens are issued by)."""
        return Revocation.issued_until_now(self._max_token_lifetime, self._clock, user_id=user_id)

    def _check_domain(self, domain_id: str) -> None:
        if not self._store.resources.domain_exists(domain_id):
            raise NotFound(f"domain {domain_id} not found")

    def _check_project(self, project_id: str | None) -> None:
        if project_id and not self._store.resources.project_exists(project_id):
            raise NotFound(f"project {project_id} not found")


def _check_user_text(email: str = "", description: str = "") -> None:
    check_text("user.email", email or "", MAX_EMAIL_LENGTH)
    check_text("user.description", description or "")


def _merge_into(changes: dict, user: User, merge_extra: bool) -> None:
    """Turn the merging changes (options always, extra with `merge_extra`) into the
    values to write, from the row read inside the transaction."""
    if "options" in changes:
        changes["options"] = user_options.merged(user.options, changes["options"])
    if merge_extra and "extra" in changes:
        merged = {**json.loads(user.extra or "{}"), **changes["extra"]}
        changes["extra"] = _extra_json({k: v for k, v in merged.items() if v is not None})


def _extra_json(extra: dict | None) -> str:
    extra = extra or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
        raise InvalidArgument("extra", "must map strings to strings")
    text = json.dumps(extra, sort_keys=True)
    check_text("extra", text)  # as stored: JSON, NUL escaped
    return text


def _page(rows: list, page_size: int, page_token: str) -> tuple[list, str]:
    """A page of a directory's answer (read whole, in order): the token is the offset
    of the next page."""
    if page_token and not (page_token.isdigit() and int(page_token) <= len(rows)):
        raise InvalidArgument("page_token", "is not a token this list gave")
    start = int(page_token) if page_token else 0
    if not page_size:
        return rows[start:], ""
    end = start + page_size
    return rows[start:end], (str(end) if end < len(rows) else "")
