"""What can change: the one vocabulary of entity kinds shared by the store's change
feed, the server's caches, and the change notices consuming services receive
(`EntityChange.entity` in identity.proto).

A change (kind, id) means: drop whatever was computed from that entity. An id of
`EVERY` means every entity of the kind; the kind `Kind.ANYTHING` (with id `EVERY`)
means anything may have changed, as when a feed could not be followed. A consumer
treats a kind it does not know as `ANYTHING`. The values are plain strings (a
`StrEnum`), so they are stored, sent and compared as such.
"""

from enum import StrEnum

EVERY = "*"


class Kind(StrEnum):
    USER = "user"
    GROUP = "group"
    PROJECT = "project"
    DOMAIN = "domain"
    ROLE = "role"
    API_KEY = "api_key"
    TRUST = "trust"
    # OAuth1: an access token (deleted), a consumer (deleted, with all its tokens).
    OAUTH1_TOKEN = "oauth1_token"
    OAUTH1_CONSUMER = "oauth1_consumer"
    # A domain's set of projects (created, renamed, enabled, deleted).
    DOMAIN_PROJECTS = "domain_projects"
    # The projects directly below a project (the hierarchy under it changed).
    PROJECT_CHILDREN = "project_children"
    # What a directory-backed (LDAP) domain's users were found to be (their groups):
    # dropped when the domain's membership TTL runs out.
    DIRECTORY = "directory"
    CATALOG = "catalog"
    # The signing keys: fetch them again.
    KEYS = "keys"
    ANYTHING = "*"


def kind_of(entity: str) -> Kind:
    """The kind a notice names; `ANYTHING` for one this version does not know."""
    try:
        return Kind(entity)
    except ValueError:
        return Kind.ANYTHING
