"""Project tags and projects acting as domains, through the real server on both
transports: tags given at creation and in an update, the tag routes, the list filters,
Keystone's limits on tags (400 / INVALID_ARGUMENT naming the field), the policy rules
in both profiles, and a project acting as a domain being the domain (listed with
`is_domain`, disabled and deleted through the project API, its tokens following it)."""

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc
from identity_api.admin.v1 import project_tags_pb2 as tpb
from identity_api.admin.v1 import project_tags_pb2_grpc as tgrpc
from identity_api.v1 import identity_pb2 as pb

from family_callers import PROFILES, assert_denied, callers_of, running
from support import login, validate
from test_gateway_admin import call

CODE = grpc.StatusCode


@pytest.fixture
def who(service, gateway):
    return callers_of(service, gateway)


def _project(api, name: str, **fields) -> dict:
    return api("POST", "/v3/projects", {"project": {"name": name, **fields}}, expect=201)["project"]


# ---- HTTP ------------------------------------------------------------------------------

def test_tags_given_at_creation_are_shown_alike_by_get_and_list(who):
    api = who.http(who.sys)
    project = _project(api, "tagged", tags=["a", "c", "b", "d"], description="x")
    assert sorted(project["tags"]) == ["a", "b", "c", "d"]
    got = api.get(f"/v3/projects/{project['id']}")["project"]
    listed = next(p for p in api.get("/v3/projects")["projects"] if p["id"] == project["id"])
    assert got == listed
    assert {"parent_id", "is_domain", "description", "links", "name", "enabled", "domain_id",
            "id", "tags"} <= got.keys() and got["is_domain"] is False


def test_the_tag_routes_as_tempest_calls_them(who):
    api = who.http(who.sys)
    pid = _project(api, "tags-crud")["id"]
    status, headers, body, raw = call(f"{who.base}/v3/projects/{pid}/tags/first", "PUT",
                                      who.sys, {})
    assert (status, raw) == (201, "")
    assert headers["Location"] == f"{who.base}/v3/projects/{pid}/tags/first"
    assert api.status("GET", f"/v3/projects/{pid}/tags/first") == 204
    assert api.status("GET", f"/v3/projects/{pid}/tags/other") == 404
    assert api("PUT", f"/v3/projects/{pid}/tags", {"tags": ["x", "z", "y"]},
               expect=200) == {"tags": ["x", "y", "z"]}
    assert api.get(f"/v3/projects/{pid}/tags") == {"tags": ["x", "y", "z"]}
    assert api.get(f"/v3/projects/{pid}")["project"]["tags"] == ["x", "y", "z"]
    assert api.status("DELETE", f"/v3/projects/{pid}/tags/x") == 204
    assert api.status("DELETE", f"/v3/projects/{pid}/tags/x") == 404
    assert api.status("GET", f"/v3/projects/{pid}/tags/x") == 404
    api("PATCH", f"/v3/projects/{pid}", {"project": {"tags": ["p"]}}, expect=200)
    assert api.get(f"/v3/projects/{pid}/tags") == {"tags": ["p"]}
    assert api.status("DELETE", f"/v3/projects/{pid}/tags") == 204
    assert api.get(f"/v3/projects/{pid}/tags") == {"tags": []}
    assert api.status("GET", "/v3/projects/nope/tags") == 404
    assert api.status("PUT", "/v3/projects/nope/tags/t") == 404


def test_lists_filter_by_tags(who):
    api = who.http(who.sys)
    for name, tags in (("t-ab", ["a", "b"]), ("t-a", ["a"]), ("t-bc", ["b", "c"])):
        _project(api, name, tags=tags)

    def names(query: str) -> list[str]:
        return sorted(p["name"] for p in api.get(f"/v3/projects?{query}")["projects"]
                      if p["name"].startswith("t-"))
    assert names("tags=a,b") == ["t-ab"]
    assert names("tags-any=a,c") == ["t-a", "t-ab", "t-bc"]
    assert names("not-tags=a,b") == ["t-a", "t-bc"]
    assert names("not-tags-any=a") == ["t-bc"]
    assert names("tags=b&not-tags-any=c") == ["t-ab"]


@pytest.mark.parametrize("tags, problem", [
    ([f"t{i}" for i in range(81)], "at most 80"),
    (["a,b"], "','"), (["a/b"], "'/'"), (["x" * 256], "1 to 255"), ([""], "1 to 255"),
    (["a", "a"], "non-unique"), ([3], "not of type 'string'"), ("abc", "not of type 'array'"),
])
def test_bad_tags_are_refused_with_400_naming_the_field(who, tags, problem):
    api = who.http(who.sys)
    for method, path, body in (("POST", "/v3/projects", {"project": {"name": "bad", "tags": tags}}),
                               ("PUT", f"/v3/projects/{who.acme}/tags", {"tags": tags}),
                               ("PATCH", f"/v3/projects/{who.acme}", {"project": {"tags": tags}})):
        status, _, body, raw = call(who.base + path, method, who.sys, body)
        assert status == 400 and "tags" in body["error"]["message"], raw
        assert problem in body["error"]["message"], raw
    assert api.get(f"/v3/projects/{who.acme}/tags") == {"tags": []}


def test_bad_single_tags_and_bodies_are_400(who):
    api = who.http(who.sys)
    assert api.status("PUT", f"/v3/projects/{who.acme}/tags", {"nottags": []}) == 400
    assert api.status("PUT", f"/v3/projects/{who.acme}/tags/{'x' * 256}") == 400
    assert api.status("GET", "/v3/projects?tags=a,,b") == 400
    api("PUT", f"/v3/projects/{who.acme}/tags", {"tags": [f"t{i}" for i in range(80)]}, expect=200)
    assert api.status("PUT", f"/v3/projects/{who.acme}/tags/one-more") == 400
    assert api.status("PUT", f"/v3/projects/{who.acme}/tags/t0") == 201  # already there


# ---- gRPC ------------------------------------------------------------------------------

def test_tags_over_grpc(who):
    projects = who.grpc(agrpc.ProjectsStub, who.sys)
    tags = who.grpc(tgrpc.ProjectTagsStub, who.sys)
    made = projects.CreateProject(apb.CreateProjectRequest(name="g", tags=["b", "a"]))
    assert list(made.tags) == ["a", "b"] and not made.is_domain
    tags.AddProjectTag(tpb.ProjectTagRequest(project_id=made.id, tag="c"))
    tags.CheckProjectTag(tpb.ProjectTagRequest(project_id=made.id, tag="c"))
    assert list(tags.ListProjectTags(tpb.ProjectTagsRequest(project_id=made.id)).tags) == [
        "a", "b", "c"]
    listed = projects.ListProjects(apb.ListProjectsRequest(tags=["a", "c"])).projects
    assert [p.id for p in listed] == [made.id]
    assert made.id not in [p.id for p in projects.ListProjects(
        apb.ListProjectsRequest(not_tags_any=["c"])).projects]
    replaced = tags.ReplaceProjectTags(tpb.ReplaceProjectTagsRequest(project_id=made.id,
                                                                     tags=["z"]))
    assert list(replaced.tags) == ["z"]
    updated = projects.UpdateProject(apb.UpdateProjectRequest(
        id=made.id, name="g2", tags=apb.ProjectTagList(tags=["y"])))
    assert (updated.name, list(updated.tags)) == ("g2", ["y"])
    untouched = projects.UpdateProject(apb.UpdateProjectRequest(id=made.id, description="d"))
    assert list(untouched.tags) == ["y"]
    tags.DeleteProjectTag(tpb.ProjectTagRequest(project_id=made.id, tag="y"))
    tags.DeleteProjectTags(tpb.ProjectTagsRequest(project_id=made.id))
    assert list(projects.GetProject(apb.GetRequest(id=made.id)).tags) == []


def test_bad_tags_over_grpc_are_invalid_argument_or_not_found(who):
    projects = who.grpc(agrpc.ProjectsStub, who.sys)
    tags = who.grpc(tgrpc.ProjectTagsStub, who.sys)

    def code(call, request) -> tuple:
        with pytest.raises(grpc.RpcError) as refused:
            call(request)
        return refused.value.code(), refused.value.details()

    assert code(projects.CreateProject, apb.CreateProjectRequest(name="x", tags=["a/b"]))[0] \
        == CODE.INVALID_ARGUMENT
    status, details = code(tags.ReplaceProjectTags, tpb.ReplaceProjectTagsRequest(
        project_id=who.acme, tags=["a", "a"]))
    assert status == CODE.INVALID_ARGUMENT and "tags" in details
    assert code(tags.AddProjectTag, tpb.ProjectTagRequest(project_id=who.acme, tag=""))[0] \
        == CODE.INVALID_ARGUMENT
    assert code(tags.CheckProjectTag, tpb.ProjectTagRequest(project_id=who.acme, tag="no"))[0] \
        == CODE.NOT_FOUND
    assert code(tags.DeleteProjectTag, tpb.ProjectTagRequest(project_id=who.acme, tag="no"))[0] \
        == CODE.NOT_FOUND
    assert code(tags.ListProjectTags, tpb.ProjectTagsRequest(project_id="nope"))[0] \
        == CODE.NOT_FOUND
    assert code(projects.ListProjects, apb.ListProjectsRequest(tags_any=["a,b"]))[0] \
        == CODE.INVALID_ARGUMENT


# ---- the policy rules, in both profiles ---------------------------------------------

def _tag_calls(who, token: str, project_id: str) -> dict:
    tags = who.grpc(tgrpc.ProjectTagsStub, token)
    one = tpb.ProjectTagRequest(project_id=project_id, tag="t")
    whole = tpb.ProjectTagsRequest(project_id=project_id)
    return {
        "identity:list_project_tags": lambda: tags.ListProjectTags(whole),
        "identity:get_project_tag": lambda: tags.CheckProjectTag(one),
        "identity:create_project_tag": lambda: tags.AddProjectTag(one),
        "identity:update_project_tags": lambda: tags.ReplaceProjectTags(
            tpb.ReplaceProjectTagsRequest(project_id=project_id, tags=["t"])),
        "identity:delete_project_tag": lambda: tags.DeleteProjectTag(one),
        "identity:delete_project_tags": lambda: tags.DeleteProjectTags(whole),
    }


# rule -> profile -> (who is let through, on which project), (who is refused, on which)
READ = {p: (("member", "acme"), ("member", "bar")) for p in PROFILES}
WRITE = {"keystone": (("project_admin", "acme"), ("member", "acme")),  # admin on any project
         "scoped": (("sys", "acme"), ("project_admin", "acme"))}       # not alice's project
ORDER = ["identity:create_project_tag", "identity:update_project_tags",
         "identity:list_project_tags", "identity:get_project_tag",
         "identity:delete_project_tag", "identity:delete_project_tags"]


@pytest.mark.parametrize("profile", PROFILES)
def test_each_tag_rule_lets_one_caller_through_and_refuses_another(deployment, profile):
    with running(deployment, profile) as who:
        for rule in ORDER:
            cases = READ if "list" in rule or "get" in rule else WRITE
            (good, good_on), (bad, bad_on) = cases[profile]
            assert_denied(_tag_calls(who, getattr(who, bad), getattr(who, bad_on))[rule], rule)
            if rule == "identity:get_project_tag" or rule == "identity:delete_project_tag":
                who.grpc(tgrpc.ProjectTagsStub, who.sys).AddProjectTag(
                    tpb.ProjectTagRequest(project_id=getattr(who, good_on), tag="t"))
            _tag_calls(who, getattr(who, good), getattr(who, good_on))[rule]()
        status = who.http(who.member).status("PUT", f"/v3/projects/{who.acme}/tags/x")
        assert status == 403


# ---- projects acting as domains ---------------------------------------------------------

def test_a_project_acting_as_a_domain_is_the_domain(who):
    """Tempest's test_create_is_domain_project, and its clean-up."""
    api = who.http(who.sys)
    made = _project(api, "dom-project", is_domain=True, domain_id=None, description="d")
    assert (made["is_domain"], made["domain_id"], made["parent_id"]) == (True, None, None)
    assert made["id"] in [p["id"] for p in api.get("/v3/projects?is_domain=True")["projects"]]
    assert made["id"] not in [p["id"] for p in api.get("/v3/projects")["projects"]]
    domain = api.get(f"/v3/domains/{made['id']}")["domain"]
    assert (domain["name"], domain["description"]) == ("dom-project", "d")
    assert made["id"] in [d["id"] for d in api.get("/v3/domains")["domains"]]
    assert api.get(f"/v3/projects/{made['id']}")["project"] == made
    inside = _project(api, "inside", domain_id=made["id"])
    assert inside["parent_id"] == made["id"]
    api("DELETE", f"/v3/projects/{inside['id']}", expect=204)
    renamed = api("PATCH", f"/v3/projects/{made['id']}",
                  {"project": {"enabled": False, "name": "dom2"}}, expect=200)["project"]
    assert (renamed["enabled"], renamed["name"], renamed["is_domain"]) == (False, "dom2", True)
    assert api.get(f"/v3/domains/{made['id']}")["domain"]["enabled"] is False
    api("DELETE", f"/v3/projects/{made['id']}", expect=204)
    assert api.status("GET", f"/v3/domains/{made['id']}") == 404
    assert api.status("GET", f"/v3/projects/{made['id']}") == 404


def test_bad_projects_acting_as_domains_are_400(who):
    api = who.http(who.sys)
    for fields in ({"parent_id": who.acme}, {"domain_id": "default"}, {"tags": ["a"]},
                   {"is_domain": "yes"}):
        body = {"project": {"name": "bad-dom", "is_domain": True, **fields}}
        status, _, answer, raw = call(f"{who.base}/v3/projects", "POST", who.sys, body)
        assert status == 400, raw
        assert next(iter(fields)) in answer["error"]["message"], raw
    assert api.status("PATCH", f"/v3/projects/{who.acme}", {"project": {"is_domain": True}}) == 400
    assert api.status("PATCH", "/v3/projects/default", {"project": {"is_domain": False}}) == 400
    assert api.status("PATCH", "/v3/projects/default", {"project": {"tags": ["a"]}}) == 400
    _project(api, "twin", is_domain=True)
    assert api.status("POST", "/v3/projects", {"project": {"name": "twin", "is_domain": True}}) \
        == 409


def test_projects_acting_as_domains_over_grpc(who):
    projects = who.grpc(agrpc.ProjectsStub, who.sys)
    made = projects.CreateProject(apb.CreateProjectRequest(name="gdom", is_domain=True))
    assert made.is_domain and made.domain_id == "" and made.parent_id == ""
    listed = projects.ListProjects(apb.ListProjectsRequest(is_domain=True)).projects
    assert made.id in [p.id for p in listed] and "default" in [p.id for p in listed]
    assert made.id not in [p.id for p in projects.ListProjects(apb.ListProjectsRequest()).projects]
    domains = who.grpc(agrpc.DomainsStub, who.sys)
    assert domains.GetDomain(apb.GetRequest(id=made.id)).name == "gdom"
    with pytest.raises(grpc.RpcError) as refused:
        projects.CreateProject(apb.CreateProjectRequest(name="x", is_domain=True,
                                                        parent_id=who.acme))
    assert refused.value.code() == CODE.INVALID_ARGUMENT and "parent_id" in refused.value.details()


def test_disabling_a_project_acting_as_a_domain_cuts_off_its_tokens(who, service):
    """The domain's tokens follow it at once, whichever API disabled it."""
    api = who.http(who.sys)
    made = _project(api, "dom-tokens", is_domain=True)
    admin_role = api.find("roles", "admin")["id"]
    user = api("POST", "/v3/users", {"user": {"name": "dom-user", "domain_id": made["id"],
                                              "password": "dom-user-pass-1"}}, expect=201)["user"]
    api("PUT", f"/v3/domains/{made['id']}/users/{user['id']}/roles/{admin_role}", expect=204)
    scope = pb.Scope(domain=pb.DomainSelector(id=made["id"]))
    request = pb.AuthenticateRequest(password=pb.PasswordMethod(
        user=pb.UserSelector(name="dom-user", domain=pb.DomainSelector(id=made["id"])),
        password="dom-user-pass-1"), scope=scope)
    token = service.stub.Authenticate(request).token
    nova = login(service.stub, "nova", pb.Scope(project=pb.ProjectSelector(
        name="service", domain=pb.DomainSelector(id="default")))).token
    assert validate(service.stub, nova, token).domain.id == made["id"]
    api("PATCH", f"/v3/projects/{made['id']}", {"project": {"enabled": False}}, expect=200)
    with pytest.raises(grpc.RpcError) as refused:
        validate(service.stub, nova, token)
    assert refused.value.code() == CODE.UNAUTHENTICATED
