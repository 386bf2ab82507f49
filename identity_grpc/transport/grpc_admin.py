"""Admin servicers: each method turns a message into one operation call and back.

The caller was authenticated by `RequestInterceptor`; policy is the operations'
business, not ours.
"""

from google.protobuf.empty_pb2 import Empty
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc

from ..errors import NotFound
from ..operations import Operations
from . import grpc_admin_messages as msg
from .grpc_interceptor import current_caller, optional_caller
from .grpc_peer import client_address

EMPTY = Empty()
# Methods that take a token when given one and work without: a user whose password
# has expired cannot get a token, and changes it by proving the old one.
TOKEN_OPTIONAL = frozenset({"/identity.admin.v1.Users/ChangePassword"})


def _page(request) -> dict:
    return {"page_size": request.page_size, "page_token": request.page_token}


class DomainsServicer(agrpc.DomainsServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.domains

    def CreateDomain(self, request, context):
        enabled = request.enabled if request.HasField("enabled") else True
        return msg.domain(self._ops.create(current_caller(), name=request.name,
                                           description=request.description, enabled=enabled))

    def GetDomain(self, request, context):
        return msg.domain(self._ops.get(current_caller(), request.id))

    def ListDomains(self, request, context):
        rows, token = self._ops.list(current_caller(), name=request.name,
                                     enabled=msg.optional(request, "enabled"), **_page(request))
        return apb.ListDomainsResponse(domains=[msg.domain(r) for r in rows], next_page_token=token)

    def UpdateDomain(self, request, context):
        changes = msg.set_fields(request, ("name", "description", "enabled"))
        return msg.domain(self._ops.update(current_caller(), request.id, **changes))

    def DeleteDomain(self, request, context):
        self._ops.delete(current_caller(), request.id)
        return EMPTY


class ProjectsServicer(agrpc.ProjectsServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.projects

    def CreateProject(self, request, context):
        enabled = request.enabled if request.HasField("enabled") else True
        return msg.project(self._ops.create(
            current_caller(), request.name, domain_id=request.domain_id,
            parent_id=request.parent_id, description=request.description, enabled=enabled,
            tags=list(request.tags), is_domain=request.is_domain))

    def GetProject(self, request, context):
        return msg.project(self._ops.get(current_caller(), request.id))

    def ListProjects(self, request, context):
        rows, token = self._ops.list(current_caller(), name=request.name,
                                     domain_id=request.domain_id, parent_id=request.parent_id,
                                     enabled=msg.optional(request, "enabled"),
                                     is_domain=msg.optional(request, "is_domain"),
                                     tags=list(request.tags), tags_any=list(request.tags_any),
                                     not_tags=list(request.not_tags),
                                     not_tags_any=list(request.not_tags_any), **_page(request))
        return apb.ListProjectsResponse(projects=[msg.project(r) for r in rows],
                                        next_page_token=token)

    def UpdateProject(self, request, context):
        changes = msg.set_fields(request, ("name", "description", "enabled", "parent_id"))
        if request.HasField("tags"):
            changes["tags"] = list(request.tags.tags)
        return msg.project(self._ops.update(current_caller(), request.id, **changes))

    def DeleteProject(self, request, context):
        self._ops.delete(current_caller(), request.id)
        return EMPTY

    def ListProjectParents(self, request, context):
        rows = self._ops.parents(current_caller(), request.id)
        return apb.ListProjectsResponse(projects=[msg.project(r) for r in rows])

    def ListProjectSubtree(self, request, context):
        rows = self._ops.subtree(current_caller(), request.id)
        return apb.ListProjectsResponse(projects=[msg.project(r) for r in rows])


class UsersServicer(agrpc.UsersServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.users

    def CreateUser(self, request, context):
        enabled = request.enabled if request.HasField("enabled") else True
        return msg.user(self._ops.create(
            current_caller(), request.name, domain_id=request.domain_id,
            password=request.password or None, email=request.email,
            description=request.description, enabled=enabled,
            default_project_id=request.default_project_id or None, extra=dict(request.extra),
            options=msg.user_options(request.options)))

    def GetUser(self, request, context):
        return msg.user(self._ops.get(current_caller(), request.id))

    def ListUsers(self, request, context):
        rows, token = self._ops.list(current_caller(), name=request.name,
                                     domain_id=request.domain_id,
                                     enabled=msg.optional(request, "enabled"), **_page(request))
        return apb.ListUsersResponse(users=[msg.user(r) for r in rows], next_page_token=token)

    def UpdateUser(self, request, context):
        changes = msg.set_fields(request, ("name", "email", "description", "enabled",
                                           "default_project_id", "password"))
        if request.HasField("extra"):
            changes["extra"] = dict(request.extra.values)
        if request.HasField("options"):
            changes["options"] = msg.user_options(request.options)
        return msg.user(self._ops.update(current_caller(), request.id, **changes))

    def DeleteUser(self, request, context):
        self._ops.delete(current_caller(), request.id)
        return EMPTY

    def ChangePassword(self, request, context):
        self._ops.change_password(optional_caller(), request.user_id, request.original_password,
                                  request.password, source=client_address(context))
        return EMPTY

    def ListUserGroups(self, request, context):
        rows = self._ops.groups(current_caller(), request.id)
        return apb.ListGroupsResponse(groups=[msg.group(r) for r in rows])

    def ListUserProjects(self, request, context):
        rows = self._ops.projects(current_caller(), request.id,
                                  enabled=msg.optional(request, "enabled"))
        return apb.ListProjectsResponse(projects=[msg.project(r) for r in rows])


class GroupsServicer(agrpc.GroupsServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.groups

    def CreateGroup(self, request, context):
        return msg.group(self._ops.create(current_caller(), request.name,
                                          domain_id=request.domain_id,
                                          description=request.description))

    def GetGroup(self, request, context):
        return msg.group(self._ops.get(current_caller(), request.id))

    def ListGroups(self, request, context):
        rows, token = self._ops.list(current_caller(), name=request.name,
                                     domain_id=request.domain_id, **_page(request))
        return apb.ListGroupsResponse(groups=[msg.group(r) for r in rows], next_page_token=token)

    def UpdateGroup(self, request, context):
        changes = msg.set_fields(request, ("name", "description"))
        return msg.group(self._ops.update(current_caller(), request.id, **changes))

    def DeleteGroup(self, request, context):
        self._ops.delete(current_caller(), request.id)
        return EMPTY

    def AddUserToGroup(self, request, context):
        self._ops.add_user(current_caller(), request.group_id, request.user_id)
        return EMPTY

    def RemoveUserFromGroup(self, request, context):
        self._ops.remove_user(current_caller(), request.group_id, request.user_id)
        return EMPTY

    def CheckUserInGroup(self, request, context):
        if not self._ops.has_user(current_caller(), request.group_id, request.user_id):
            raise NotFound(f"user {request.user_id} is not a member of group {request.group_id}")
        return EMPTY

    def ListGroupUsers(self, request, context):
        rows = self._ops.users(current_caller(), request.id)
        return apb.ListUsersResponse(users=[msg.user(r) for r in rows])


class RolesServicer(agrpc.RolesServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.roles

    def CreateRole(self, request, context):
        return msg.role(self._ops.create(current_caller(), name=request.name,
                                         domain_id=request.domain_id,
                                         description=request.description))

    def GetRole(self, request, context):
        return msg.role(self._ops.get(current_caller(), request.id))

    def ListRoles(self, request, context):
        rows, token = self._ops.list(current_caller(), name=request.name,
                                     domain_id=request.domain_id, **_page(request))
        return apb.ListRolesResponse(roles=[msg.role(r) for r in rows], next_page_token=token)

    def UpdateRole(self, request, context):
        changes = msg.set_fields(request, ("name", "description"))
        return msg.role(self._ops.update(current_caller(), request.id, **changes))

    def DeleteRole(self, request, context):
        self._ops.delete(current_caller(), request.id)
        return EMPTY

    def CreateImpliedRole(self, request, context):
        self._ops.imply(current_caller(), request.prior_role_id, request.implied_role_id)
        return request

    def DeleteImpliedRole(self, request, context):
        self._ops.unimply(current_caller(), request.prior_role_id, request.implied_role_id)
        return EMPTY

    def ListImpliedRoles(self, request, context):
        pairs = self._ops.implications(current_caller(), request.prior_role_id)
        return apb.ListImpliedRolesResponse(implied_roles=[
            apb.ImpliedRole(prior_role_id=p, implied_role_id=i) for p, i in pairs])


class AssignmentsServicer(agrpc.AssignmentsServicer):
    def __init__(self, ops: Operations):
        self._ops = ops.assignments

    def GrantRole(self, request, context):
        self._ops.grant(current_caller(), **msg.grant(request))
        return EMPTY

    def CheckGrant(self, request, context):
        if not self._ops.check(current_caller(), **msg.grant(request)):
            raise NotFound("no such role assignment")
        return EMPTY

    def RevokeRole(self, request, context):
        self._ops.revoke(current_caller(), **msg.grant(request))
        return EMPTY

    def ListRoleAssignments(self, request, context):
        filters = dict(user_id=request.user_id, group_id=request.group_id,
                       domain_id=request.domain_id, system=request.system,
                       role_id=request.role_id, effective=request.effective,
                       inherited_only=request.inherited_only)
        token, truncated = "", False
        if request.include_subtree:
            rows, truncated = self._ops.list_in_subtree(current_caller(), request.project_id,
                                                        **filters)
        else:
            rows, token = self._ops.list(current_caller(), project_id=request.project_id,
                                         **filters, **_page(request))
        names = self._ops.names(rows) if request.include_names else None
        return apb.ListRoleAssignmentsResponse(
            role_assignments=[msg.assignment(a, names) for a in rows], next_page_token=token,
            truncated=truncated)
