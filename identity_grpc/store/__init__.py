"""The store: one interface per concept over one Peewee implementation.

`Store` is what a `Core` opens: a database of its own (`db.open_database`), the tables
bound to it (`models.Tables`: no process-wide binding, so two stores can be open in
one process) and a store object per concept, through which managers read and write.
A manager reaches another concept's data through that concept's manager or store,
never its tables. The conformance suite (`tests/store/`) runs the same tests on
SQLite, PostgreSQL and MariaDB: a backend is correct when it passes it.
"""

import peewee as pw

from .assignments import AssignmentStore
from .catalog import CatalogStore
from .credential_blobs import CredentialBlobStore
from .credentials import CredentialStore
from .domain_config import DomainConfigStore
from .endpoint_filter import EndpointFilterStore
from .feed import ChangeFeedStore
from .groups import GroupStore
from .id_mapping import IdMappingStore
from .limits import LimitStore
from .models import Tables
from .oauth1 import OAuth1Store
from .policies import PolicyStore
from .project_tags import ProjectTagStore
from .resources import ResourceStore
from .revocations import RevocationStore
from .trusts import TrustStore
from .users import UserStore


class Store:
    def __init__(self, db: pw.Database):
        self.db = db
        self.tables = tables = Tables(db)
        self.users = UserStore(tables)
        self.groups = GroupStore(tables)
        self.resources = ResourceStore(tables)
        self.assignments = AssignmentStore(tables)
        self.catalog = CatalogStore(tables)
        self.credentials = CredentialStore(tables)
        self.credential_blobs = CredentialBlobStore(tables)
        self.revocations = RevocationStore(tables)
        self.feed = ChangeFeedStore(tables)
        self.trusts = TrustStore(tables)
        self.project_tags = ProjectTagStore(tables)
        self.domain_config = DomainConfigStore(tables)
        self.policies = PolicyStore(tables)
        self.limits = LimitStore(tables)
        self.endpoint_filter = EndpointFilterStore(tables)
        self.oauth1 = OAuth1Store(tables)
        self.id_mapping = IdMappingStore(tables)

    @classmethod
    def open(cls, url: str, upgrade: bool = True) -> "Store":
        """The store at `url`, its schema brought up to date (StoreError if it cannot
        be opened: see `db.open_database`)."""
        from .db import open_database
        return cls(open_database(url, upgrade=upgrade))

    def close(self) -> None:
        self.db.close()
