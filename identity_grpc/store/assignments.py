"""Roles, the roles they imply, and grants of roles to users and groups on projects, domains and the system (tables Role, ImpliedRole, RoleAssignment)."""

from .base import ConceptStore


class AssignmentStore(ConceptStore):
    pass
