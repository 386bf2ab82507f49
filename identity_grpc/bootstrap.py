"""Bootstrap: what every deployment needs (the demo dataset is `demo.py`'s).
Idempotent: running it again finds what exists and adds only what is missing, and
never resets a password."""

from .core import Core
from .errors import NotFound
from .store.models import DEFAULT_DOMAIN_ID, SYSTEM_TARGET
from .user_options import IGNORE_LOCKOUT, options_of

BOOTSTRAP_ROLES = ("admin", "manager", "member", "reader", "service")
IMPLIED_CHAIN = ("admin", "manager", "member", "reader")  # each implies the next
REGION = "RegionOne"


class Seeder:
    """Find-or-create helpers over the core's managers."""

    def __init__(self, core: Core):
        self.core = core

    def role(self, name: str) -> str:
        role = self.core.assignments.find_role(name)
        return (role or self.core.assignments.create_role(name)).id

    def domain(self, name: str) -> str:
        row = self.core.resources.find_domain(name=name)
        return (row or self.core.resources.create_domain(name)).id

    def project(self, name: str, domain_id: str = DEFAULT_DOMAIN_ID, description: str = "") -> str:
        resources = self.core.resources
        row = resources.find_project(name=name, domain=resources.get_domain(domain_id))
        return (row or self.core.resources.create_project(name, domain_id, description)).id

    def user(self, name: str, password: str, email: str = "",
             domain_id: str = DEFAULT_DOMAIN_ID) -> str:
        row = self.core.users_and_groups.find_user(name=name, domain_id=domain_id)
        return (row or self.core.users_and_groups.create_user(name, domain_id, password, email=email)).id

    def never_locked_out(self, user_id: str) -> None:
        """Set `ignore_lockout_failure_attempts` unless the user has it set either way:
        whoever knows the name of an account everything depends on (the admin, a
        service user) must not be able to lock it with wrong passwords."""
        if IGNORE_LOCKOUT not in options_of(self.core.users_and_groups.get_user(user_id).options):
            self.core.users_and_groups.update_user(user_id, options={IGNORE_LOCKOUT: True})

    def group(self, name: str, domain_id: str = DEFAULT_DOMAIN_ID) -> str:
        row = self.core.users_and_groups.find_group(name, domain_id)
        return (row or self.core.users_and_groups.create_group(name, domain_id)).id

    def grant(self, role: str, target_type: str, target_id: str, **actor) -> None:
        self.core.assignments.grant(self.role(role), target_type=target_type,
                                    target_id=target_id, **actor)

    def endpoint(self, service_type: str, service_name: str, url: str,
                 interface: str = "public", region: str = REGION) -> None:
        catalog = self.core.catalog
        try:
            catalog.get_region(region)
        except NotFound:
            catalog.create_region(region)
        service = catalog.find_service(service_type, service_name) or catalog.create_service(
            service_type, service_name)
        exists, _ = catalog.list_endpoints(service_id=service.id, interface=interface, page_size=1)
        if not exists:
            catalog.create_endpoint(service.id, interface, url, region)


def bootstrap(core: Core, admin_password: str, identity_url: str) -> str:
    """Roles (with admin -> manager -> member -> reader), the admin user (never locked
    out by failed passwords) with admin on project `admin` and on the system, the `service` project, a region and the
    identity service's endpoint. Returns the admin user's id."""
    seed = Seeder(core)
    for name in BOOTSTRAP_ROLES:
        seed.role(name)
    for prior, implied in zip(IMPLIED_CHAIN, IMPLIED_CHAIN[1:]):
        core.assignments.add_implied_role(seed.role(prior), seed.role(implied))
    admin_project = seed.project("admin", description="Bootstrap project for the cloud's administrators")
    seed.project("service", description="Holds one user per service")
    admin = seed.user("admin", admin_password)
    seed.never_locked_out(admin)
    seed.grant("admin", "project", admin_project, user_id=admin)
    seed.grant("admin", "system", SYSTEM_TARGET, user_id=admin)
    seed.endpoint("identity", "keystone", identity_url.rstrip("/") + "/v3/")
    return admin
