"""Roles, the roles they imply, and grants of roles to users and groups on projects, domains and the system (tables Role, ImpliedRole, RoleAssignment)."""

from .base import ConceptStore


class AssignmentStore(ConceptStore):
    pass

    # --- for users
    def delete_for_actor(self, actor_type: str, actor_id: str) -> int:
        """Remove every grant to the actor ("user" or "group"), as it is deleted."""
        A = self.t.RoleAssignment
        return A.delete().where((A.actor_type == actor_type) & (A.actor_id == actor_id)).execute()
