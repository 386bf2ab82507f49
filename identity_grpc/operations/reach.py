"""How far the power of a user or a group reaches: what the rules on managing it ask.

A domain admin manages what is in its domain. A user of that domain may yet hold power
elsewhere: a system grant, grants on other domains or their projects (directly or
through its groups), or a cloud-wide role (`service`, or one a rule lets act on other
domains: `policy_probe`). Were a domain admin able to reset that user's password, it
could log in as the user and hold that power itself. So the rules on changing or
deleting a user, and on letting one into a group, ask `reach_domain_id`: the single
domain the actor's power stays in, or nothing when it reaches past one.
"""

from __future__ import annotations

from ..core import Core
from ..records import TokenInfo


def reach_domain_id(core: Core, caller: TokenInfo, actor_domain_id: str, *,
                    user_id: str = "", group_id: str = "") -> str | None:
    """The one domain holding the actor and every target of its grants (a user's
    through its groups too), when it holds no system grant and no role cloud-wide
    for `caller`; else None."""
    group_ids = core.users_and_groups.group_ids(user_id) if user_id else [group_id]
    grants = core.assignments.grants_held(user_id, group_ids)
    if any(target_type == "system" for target_type, _, _ in grants):
        return None
    domains = {actor_domain_id}
    domains |= {target_id for target_type, target_id, _ in grants if target_type == "domain"}
    domains |= core.resources.domain_ids_of_projects(
        target_id for target_type, target_id, _ in grants if target_type == "project")
    if len(domains) != 1:
        return None
    if grants and cloud_wide(core, caller, {role_id for _, _, role_id in grants}):
        return None
    return actor_domain_id


def cloud_wide(core: Core, caller: TokenInfo, role_ids) -> bool:
    """Whether the roles (with what they imply) give power past the scope they are
    held on that `caller` has not got itself (`Policy.cloud_wide`)."""
    names = {r.name for r in core.assignments.graph.expand(role_ids)}
    return core.policy.cloud_wide(names, caller)
