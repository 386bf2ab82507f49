"""Domain configuration through the real server on both transports: Tempest's flows
(create, show by group and option, update, delete; the defaults), Keystone's answers
to bad input (403 for an unsupported group or option or an empty configuration, 404
for one the domain lacks, 400 for a body of the wrong shape), sensitive options never
shown but in the effective configuration, the policy rules in both profiles, and a
domain's configuration going with it."""

import grpc
import pytest
from google.protobuf.struct_pb2 import Struct
from identity_api.admin.v1 import domain_config_pb2 as dpb
from identity_api.admin.v1 import domain_config_pb2_grpc as dgrpc

from family_callers import PROFILES, assert_denied, callers_of, running
from test_gateway_admin import call

CODE = grpc.StatusCode
CUSTOM = {"identity": {"driver": "ldap"},
          "ldap": {"url": "ldap://myldap.com:389/", "user_tree_dn": "ou=Users,dc=my,dc=org"}}


@pytest.fixture
def who(service, gateway):
    return callers_of(service, gateway)


def _domain(api, name: str = "cfg") -> str:
    return api("POST", "/v3/domains", {"domain": {"name": name}}, expect=201)["domain"]["id"]


def test_create_show_update_and_delete_as_tempest_does(who):
    api = who.http(who.sys)
    domain = _domain(api)
    base = f"/v3/domains/{domain}/config"
    assert api("PUT", base, {"config": CUSTOM}, expect=201) == {"config": CUSTOM}
    for group, options in CUSTOM.items():
        assert api.get(f"{base}/{group}") == {"config": {group: options}}
        for option, value in options.items():
            assert api.get(f"{base}/{group}/{option}") == {"config": {option: value}}
    changed = {**CUSTOM, "ldap": {**CUSTOM["ldap"], "url": "ldap://other/"}}
    assert api("PATCH", base, {"config": changed}, expect=200) == {"config": changed}
    assert api.get(base) == {"config": changed}
    group = api("PATCH", f"{base}/identity",
                {"config": {"identity": {"driver": "d2", "list_limit": 7}}}, expect=200)
    assert group["config"]["identity"] == {"driver": "d2", "list_limit": 7}
    option = api("PATCH", f"{base}/identity/driver", {"config": {"driver": "d3"}}, expect=200)
    assert option["config"]["identity"]["driver"] == "d3"
    assert api.status("DELETE", f"{base}/identity/driver") == 204
    assert api.status("GET", f"{base}/identity/driver") == 404
    assert api.status("DELETE", f"{base}/identity") == 204
    assert api.status("GET", f"{base}/identity") == 404
    assert api("PUT", base, {"config": CUSTOM}, expect=200) == {"config": CUSTOM}  # replaced
    assert api.status("DELETE", base) == 204
    assert api.status("GET", base) == 404
    assert api.status("DELETE", base) == 204  # as Keystone: nothing left to delete is fine


def test_the_defaults_as_tempest_reads_them(who):
    api = who.http(who.sys)
    config = api.get("/v3/domains/config/default")["config"]
    assert {"identity", "ldap"} <= config.keys() and "password" not in config["ldap"]
    identity = api.get("/v3/domains/config/identity/default")["config"]
    assert identity == {"identity": {"driver": "sql", "list_limit": None}}
    for option in config["ldap"]:
        assert option in api.get(f"/v3/domains/config/ldap/{option}/default")["config"]
    assert api.status("GET", "/v3/domains/config/ldap/password/default") == 403
    assert api.status("GET", "/v3/domains/config/nope/default") == 403


def test_sensitive_options_are_kept_but_never_shown(who, service):
    api = who.http(who.sys)
    domain = _domain(api)
    base = f"/v3/domains/{domain}/config"
    given = {"ldap": {"url": "ldap://h/", "password": "s3cret", "user": "cn=%(password)s"}}
    created = api("PUT", base, {"config": given}, expect=201)["config"]
    assert created == {"ldap": {"url": "ldap://h/", "user": "cn=%(password)s"}}
    assert "s3cret" not in str(api.get(base)) and "s3cret" not in str(api.get(f"{base}/ldap"))
    assert api.status("GET", f"{base}/ldap/password") == 404
    effective = service.core.domain_config.effective(domain)
    assert effective == {"ldap": {"url": "ldap://h/", "password": "s3cret", "user": "cn=s3cret"}}
    api("PATCH", f"{base}/ldap/password", {"config": {"password": "new"}}, expect=200)
    assert service.core.domain_config.effective(domain)["ldap"]["password"] == "new"
    assert api.status("DELETE", f"{base}/ldap/password") == 204
    assert "password" not in service.core.domain_config.effective(domain)["ldap"]


@pytest.mark.parametrize("method, path, body, status", [
    ("PUT", "", {"config": {"nope": {"a": 1}}}, 403),
    ("PUT", "", {"config": {"ldap": {"nope": 1}}}, 403),
    ("PUT", "", {"config": {}}, 403),
    ("PUT", "", {}, 403),
    ("PUT", "", {"config": {"ldap": {}}}, 403),
    ("PUT", "", {"config": {"ldap": "url"}}, 403),
    ("PUT", "", {"config": ["ldap"]}, 400),
    ("PATCH", "/ldap", {"config": {"identity": {"driver": "x"}}}, 403),
    ("PATCH", "/ldap", {"config": {"ldap": {"url": "x"}}}, 404),
    ("PATCH", "/ldap/url", {"config": {"url": "x", "user": "y"}}, 403),
    ("PATCH", "/ldap/url", {"config": "x"}, 400),
    ("GET", "/nope", None, 403),
    ("GET", "/ldap/nope", None, 403),
    ("GET", "/ldap", None, 404),
    ("DELETE", "/ldap", None, 404),
    ("DELETE", "/identity/driver", None, 404),
])
def test_bad_requests_get_keystones_answers(who, method, path, body, status):
    api = who.http(who.sys)
    domain = _domain(api)
    got, _, answer, raw = call(f"{who.base}/v3/domains/{domain}/config{path}", method, who.sys,
                               body)
    assert got == status, raw
    assert answer["error"]["code"] == status


def test_an_unknown_domain_is_404(who):
    api = who.http(who.sys)
    assert api.status("GET", "/v3/domains/nope/config") == 404
    assert api.status("PUT", "/v3/domains/nope/config", {"config": CUSTOM}) == 404


def test_a_domains_configuration_goes_with_it(who):
    api = who.http(who.sys)
    domain = _domain(api, "gone")
    api("PUT", f"/v3/domains/{domain}/config", {"config": CUSTOM}, expect=201)
    api("PATCH", f"/v3/domains/{domain}", {"domain": {"enabled": False}}, expect=200)
    api("DELETE", f"/v3/domains/{domain}", expect=204)
    assert who.service.core.domain_config.effective(domain) == {}


def _struct(value: dict) -> Struct:
    message = Struct()
    message.update(value)
    return message


def test_domain_configuration_over_grpc(who):
    api = who.http(who.sys)
    domain = _domain(api)
    configs = who.grpc(dgrpc.DomainConfigsStub, who.sys)
    created = configs.CreateDomainConfig(dpb.CreateDomainConfigRequest(
        domain_id=domain, config=_struct({"identity": {"driver": "ldap", "list_limit": 5}})))
    assert created.created
    assert api.get(f"/v3/domains/{domain}/config") == {
        "config": {"identity": {"driver": "ldap", "list_limit": 5}}}
    got = configs.GetDomainConfig(dpb.DomainConfigRequest(domain_id=domain, group="identity",
                                                          option="driver"))
    assert dict(got.config) == {"driver": "ldap"}
    configs.UpdateDomainConfig(dpb.UpdateDomainConfigRequest(
        domain_id=domain, group="identity", option="driver", config=_struct({"driver": "sql"})))
    assert dict(configs.GetDomainConfig(dpb.DomainConfigRequest(domain_id=domain)).config[
        "identity"]) == {"driver": "sql", "list_limit": 5}
    defaults = configs.GetDomainConfigDefault(dpb.DomainConfigDefaultRequest(group="ldap"))
    assert defaults.config["ldap"]["url"] == "ldap://localhost"
    configs.DeleteDomainConfig(dpb.DomainConfigRequest(domain_id=domain))

    def code(call, request):
        with pytest.raises(grpc.RpcError) as refused:
            call(request)
        return refused.value.code()
    assert code(configs.GetDomainConfig, dpb.DomainConfigRequest(domain_id=domain)) \
        == CODE.NOT_FOUND
    assert code(configs.GetDomainConfig, dpb.DomainConfigRequest(domain_id=domain, group="x")) \
        == CODE.PERMISSION_DENIED
    assert code(configs.GetDomainConfig, dpb.DomainConfigRequest(domain_id=domain, option="url")) \
        == CODE.INVALID_ARGUMENT
    assert code(configs.CreateDomainConfig, dpb.CreateDomainConfigRequest(domain_id=domain)) \
        == CODE.PERMISSION_DENIED


# ---- the policy rules, in both profiles -------------------------------------------------

def _calls(who, token: str, domain: str) -> dict:
    configs = who.grpc(dgrpc.DomainConfigsStub, token)
    whole = dpb.DomainConfigRequest(domain_id=domain)
    return {
        "identity:create_domain_config": lambda: configs.CreateDomainConfig(
            dpb.CreateDomainConfigRequest(domain_id=domain, config=_struct(CUSTOM))),
        "identity:get_domain_config": lambda: configs.GetDomainConfig(whole),
        "identity:update_domain_config": lambda: configs.UpdateDomainConfig(
            dpb.UpdateDomainConfigRequest(domain_id=domain, config=_struct(CUSTOM))),
        "identity:get_domain_config_default": lambda: configs.GetDomainConfigDefault(
            dpb.DomainConfigDefaultRequest()),
        "identity:delete_domain_config": lambda: configs.DeleteDomainConfig(whole),
    }


# profile -> (who is let through, who is refused)
ALLOWED = {"keystone": ("project_admin", "member"), "scoped": ("sys", "project_admin")}


@pytest.mark.parametrize("profile", PROFILES)
def test_each_rule_lets_one_caller_through_and_refuses_another(deployment, profile):
    with running(deployment, profile) as who:
        good, bad = (getattr(who, name) for name in ALLOWED[profile])
        for rule in _calls(who, who.sys, who.foo):  # in order: create first, delete last
            assert_denied(_calls(who, bad, who.foo)[rule], rule)
            _calls(who, good, who.foo)[rule]()
        assert who.http(bad).status("GET", "/v3/domains/config/default") == 403


def test_the_ldap_options_of_the_directory_client_are_accepted(who):
    """connection_timeout (Keystone's) and allow_writes, membership_cache_ttl (ours,
    docs/ldap.md) can be set and have defaults."""
    api = who.http(who.sys)
    domain = _domain(api, "ldapopts")
    options = {"connection_timeout": 3, "allow_writes": True, "membership_cache_ttl": 60}
    config = {"identity": {"driver": "ldap"}, "ldap": options}
    assert api("PUT", f"/v3/domains/{domain}/config", {"config": config},
               expect=201) == {"config": config}
    defaults = api.get("/v3/domains/config/ldap/default")["config"]["ldap"]
    assert (defaults["connection_timeout"], defaults["allow_writes"],
            defaults["membership_cache_ttl"]) == (-1, False, 30)
