"""The policy rule language (oslo.policy's), as the standalone client library implements it:
every check kind, operators and precedence, the legacy list form, rule references, and
policy files whose mistakes are reported with the file and the line that is wrong."""

import re

import pytest

from identity_api.policy import Enforcer, PolicyFileError, PolicySyntaxError, parse_rule

ADMIN = {"user_id": "u1", "project_id": "p1", "domain_id": "d1", "roles": ["admin", "member"]}
MEMBER = {"user_id": "u2", "project_id": "p1", "roles": ["Member"]}
NESTED = {"user_id": "u3", "roles": [], "token": {"user": {"domain": {"id": "d9"}}},
          "system_scope": "all", "is_admin": True, "count": 3, "groups": ["g1", "g2"]}


def roles(*names):
    return {"roles": list(names)}


# (rule, target, creds, expected)
CASES = [
    # constants and the empty rule
    ("@", {}, {}, True),
    ("!", {}, ADMIN, False),
    ("", {}, {}, True),
    ("   ", {}, {}, True),
    # role: membership, case-insensitive, from the target too
    ("role:admin", {}, ADMIN, True),
    ("role:admin", {}, MEMBER, False),
    ("role:member", {}, MEMBER, True),
    ("role:MEMBER", {}, ADMIN, True),
    ("role:admin", {}, {}, False),
    ("role:admin", {}, {"roles": [{"name": "Admin", "id": "r1"}]}, True),
    ("role:%(role)s", {"role": "member"}, MEMBER, True),
    ("role:%(role)s", {}, MEMBER, False),
    # generic checks: literal values
    ("user_id:u1", {}, ADMIN, True),
    ("user_id:u1", {}, MEMBER, False),
    ("unknown_key:x", {}, ADMIN, False),
    ("system_scope:all", {}, NESTED, True),
    ("system_scope:'all'", {}, NESTED, True),
    ('system_scope:"all"', {}, NESTED, True),
    ("system_scope:'none'", {}, NESTED, False),
    ("name:'a b'", {}, {"name": "a b"}, True),
    ("count:3", {}, NESTED, True),
    ("count:4", {}, NESTED, False),
    ("is_admin:True", {}, NESTED, True),
    ("is_admin:True", {}, {"is_admin": False}, False),
    ("is_admin:True", {}, {"is_admin": "true"}, True),
    ("is_admin:False", {}, {"is_admin": False}, True),
    ("is_admin:False", {}, NESTED, False),
    ("is_admin:True", {}, {}, False),
    ("groups:g2", {}, NESTED, True),  # a list in the creds: any element
    ("groups:g3", {}, NESTED, False),
    # dotted keys go into nested credentials
    ("token.user.domain.id:d9", {}, NESTED, True),
    ("token.user.domain.id:d1", {}, NESTED, False),
    ("token.user.nope.id:d9", {}, NESTED, False),
    ("token.user.domain.id:d9", {}, {"token.user.domain.id": "d9"}, True),
    # substitution from the target: flat, nested, missing
    ("project_id:%(project_id)s", {"project_id": "p1"}, ADMIN, True),
    ("project_id:%(project_id)s", {"project_id": "p2"}, ADMIN, False),
    ("project_id:%(project_id)s", {}, ADMIN, False),
    ("project_id:%(project_id)s", {"project_id": None}, {"project_id": None}, False),
    ("domain_id:%(target.user.domain_id)s", {"target.user.domain_id": "d1"}, ADMIN, True),
    ("domain_id:%(target.user.domain_id)s", {"target": {"user": {"domain_id": "d1"}}}, ADMIN, True),
    ("domain_id:%(target.user.domain_id)s", {"target": {"user": {"domain_id": "d2"}}}, ADMIN, False),
    ("domain_id:%(target.user.domain_id)s", {"target": {"user": {}}}, ADMIN, False),
    ("domain_id:%(target.user.domain_id)s", {"target": {"user": "d1"}}, ADMIN, False),
    ("domain_id:%(target.user.domain_id)s",  # the flat key wins
     {"target.user.domain_id": "d1", "target": {"user": {"domain_id": "d2"}}}, ADMIN, True),
    ("is_admin:%(flag)s", {"flag": True}, NESTED, True),
    ("user_id:user-%(n)s", {"n": 7}, {"user_id": "user-7"}, True),
    ("user_id:user-%(n)s", {}, {"user_id": "user-7"}, False),
    # a literal on the left compares with the target
    ("'member':%(target.role.name)s", {"target.role.name": "member"}, {}, True),
    ("'member':%(target.role.name)s", {"target": {"role": {"name": "admin"}}}, {}, False),
    ("'member':%(target.role.name)s", {}, {}, False),
    ("3:%(n)s", {"n": 3}, {}, True),
    ("True:%(enabled)s", {"enabled": True}, {}, True),
    ("True:%(enabled)s", {"enabled": False}, {}, False),
    # operators and precedence: not > and > or
    ("role:admin and project_id:p1", {}, ADMIN, True),
    ("role:admin and project_id:p2", {}, ADMIN, False),
    ("role:nope or user_id:u1", {}, ADMIN, True),
    ("role:nope or user_id:u9", {}, ADMIN, False),
    ("not role:admin", {}, ADMIN, False),
    ("not role:admin", {}, MEMBER, True),
    ("not role:a and role:b", {}, roles("b"), True),
    ("not role:a and role:b", {}, roles("a", "b"), False),
    ("not role:a and role:b", {}, roles(), False),  # not (a and b) would allow
    ("role:a or role:b and role:c", {}, roles("a"), True),  # (a or b) and c would deny
    ("role:a or role:b and role:c", {}, roles("b"), False),
    ("role:a or role:b and role:c", {}, roles("b", "c"), True),
    ("(role:a or role:b) and role:c", {}, roles("a"), False),
    ("(role:a or role:b) and role:c", {}, roles("b", "c"), True),
    ("not (role:a or role:b)", {}, roles("c"), True),
    ("not (role:a or role:b)", {}, roles("b"), False),
    ("not not role:a", {}, roles("a"), True),
    ("((role:a))", {}, roles("a"), True),
    ("role:a OR Role:b", {}, roles("a"), True),
    ("NOT role:a And role:b", {}, roles("b"), True),
    ("@ and !", {}, {}, False),
    ("! or @", {}, {}, True),
    # the legacy list form
    ([], {}, {}, True),
    ([[]], {}, ADMIN, False),
    ([["role:admin"], ["project_id:%(project_id)s"]], {"project_id": "p9"}, ADMIN, True),
    ([["role:admin"], ["project_id:%(project_id)s"]], {"project_id": "p1"}, MEMBER, True),
    ([["role:admin"], ["project_id:%(project_id)s"]], {"project_id": "p9"}, MEMBER, False),
    ([["project_id:%(project_id)s", "role:member"]], {"project_id": "p1"}, MEMBER, True),
    ([["project_id:%(project_id)s", "role:admin"]], {"project_id": "p1"}, MEMBER, False),
    ([["role:a or role:b", "not role:c"]], {}, roles("b"), True),
    ([["role:a or role:b", "not role:c"]], {}, roles("b", "c"), False),
    (["role:a", "role:b"], {}, roles("b"), True),
    ("role:admin", {}, ADMIN, True),
]


@pytest.mark.parametrize("rule,target,creds,expected", CASES, ids=[str(c[0]) or "empty" for c in CASES])
def test_rule_evaluation(rule, target, creds, expected):
    check = parse_rule(rule)
    assert check(target, creds, None) is expected
    # what a check renders parses back to the same rule
    again = parse_rule(str(check))
    assert str(again) == str(check)
    assert again(target, creds, None) is expected


@pytest.mark.parametrize("rule,rendered", [
    ("role:a or role:b and role:c", "role:a or role:b and role:c"),
    ("(role:a or role:b) and role:c", "(role:a or role:b) and role:c"),
    ("not (role:a and role:b)", "not (role:a and role:b)"),
    ("ROLE:x  AND   ((user_id:%(user_id)s))", "ROLE:x and user_id:%(user_id)s"),
    ("'member':%(target.role.name)s", "'member':%(target.role.name)s"),
    ("", "@"),
    ([], "@"),
    ([[]], "!"),
    ([["role:admin"], ["project_id:%(project_id)s", "role:member"]],
     "role:admin or project_id:%(project_id)s and role:member"),
    ([["role:a or role:b", "role:c"]], "(role:a or role:b) and role:c"),
])
def test_rules_render_back(rule, rendered):
    assert str(parse_rule(rule)) == rendered


@pytest.mark.parametrize("rule,message", [
    ("(role:a", "unbalanced parenthesis"),
    ("role:a)", "unbalanced parenthesis"),
    ("((role:a) or role:b", "unbalanced parenthesis"),
    ("()", "empty parentheses"),
    ("foo", "unknown check 'foo'"),
    ("role:a and foo", "unknown check 'foo'"),
    ("'x'", "unknown check \"'x'\""),
    ("role:", "empty value in check 'role:'"),
    ("user_id:", "empty value in check 'user_id:'"),
    ("rule:", "empty rule name in check 'rule:'"),
    (":x", "malformed key in check ':x'"),
    ("role:a and", "expected a check after 'and'"),
    ("role:a or", "expected a check after 'or'"),
    ("not", "expected a check after 'not'"),
    ("and role:a", "expected a check, got 'and'"),
    ("role:a and or role:b", "expected a check after 'and', got 'or'"),
    ("(role:a or)", "expected a check after 'or', got ')'"),
    ("role:a role:b", "expected 'and' or 'or' before 'role:b'"),
    ("user_id:'abc", "unterminated quote"),
    ("user_id:'a'b", "malformed quoted value in check \"user_id:'a'b\""),
    ("user_id:%(x", "malformed value"),
    ("user_id:%()s", "empty substitution in check 'user_id:%()s'"),
    (42, "a rule must be a string or a list, not int"),
    ([[1]], "a list rule holds lists of strings"),
    ([["role:a", "(role:b"]], "unbalanced parenthesis in '(role:b'"),
])
def test_syntax_errors_say_what_is_wrong(rule, message):
    with pytest.raises(PolicySyntaxError) as err:
        parse_rule(rule)
    assert message in str(err.value)


def test_unknown_keys_are_not_errors():
    assert parse_rule("anything.at.all:x")({}, {}, None) is False


CLASSIC = {
    "admin_api": "role:admin",
    "compute:create": "role:compute-user",
    "compute:delete": "rule:admin_api or project_id:%(project_id)s",
    "identity:get_user": "rule:compute:delete",
}


@pytest.mark.parametrize("rule,target,creds,expected", [
    ("admin_api", {}, roles("admin"), True),
    ("admin_api", {}, roles("compute-user"), False),
    ("compute:create", {}, roles("Compute-User"), True),
    ("compute:create", {}, roles("admin"), False),
    ("compute:delete", {"project_id": "p9"}, roles("admin"), True),
    ("compute:delete", {"project_id": "p1"}, {"project_id": "p1", "roles": []}, True),
    ("compute:delete", {"project_id": "p2"}, {"project_id": "p1", "roles": []}, False),
    ("compute:delete", {}, {"project_id": "p1", "roles": []}, False),
    ("identity:get_user", {"project_id": "p1"}, {"project_id": "p1"}, True),  # rule name with a colon
    ("no:such:rule", {}, roles("admin"), False),
])
def test_classic_policy_json(rule, target, creds, expected):
    assert Enforcer(CLASSIC).authorize(rule, target, creds) is expected


def test_rules_are_exposed_parsed():
    enforcer = Enforcer(CLASSIC)
    assert set(enforcer.rules) == set(CLASSIC)
    assert str(enforcer.rules["compute:delete"]) == CLASSIC["compute:delete"]
    # a rule: reference evaluated without an enforcer is False, not an error
    assert enforcer.rules["identity:get_user"]({}, roles("admin"), None) is False
    assert enforcer.rules["identity:get_user"]({}, roles("admin"), enforcer) is True


def test_default_rule_covers_unknown_names():
    enforcer = Enforcer({"default": "role:admin", "open": "@"}, default_rule="default")
    assert enforcer.authorize("never:heard:of", {}, roles("admin")) is True
    assert enforcer.authorize("never:heard:of", {}, roles("member")) is False
    assert enforcer.authorize("open", {}, {}) is True
    assert Enforcer({"open": "@"}).authorize("never:heard:of", {}, roles("admin")) is False
    with pytest.raises(PolicySyntaxError, match="default rule 'nope' is not defined"):
        Enforcer({"open": "@"}, default_rule="nope")


@pytest.mark.parametrize("rules,message", [
    ({"a": "rule:b"}, "rule 'a': unknown rule 'b'"),
    ({"a": "role:x or (user_id:1 and rule:typo)"}, "rule 'a': unknown rule 'typo'"),
    ({"a": [["rule:gone"]]}, "rule 'a': unknown rule 'gone'"),
    ({"a": "rule:a"}, "rule cycle: a -> a"),
    ({"a": "rule:b", "b": "role:x or rule:a"}, "rule cycle: a -> b -> a"),
    ({"a": "rule:b", "b": "rule:c", "c": "not rule:b"}, "rule cycle: b -> c -> b"),
    ({"ok": "@", "bad": "role:a and"}, "rule 'bad': expected a check after 'and'"),
])
def test_enforcer_refuses_bad_rule_sets_up_front(rules, message):
    with pytest.raises(PolicySyntaxError) as err:
        Enforcer(rules)
    assert message in str(err.value)


def test_shared_references_are_not_cycles():
    enforcer = Enforcer({"base": "role:a", "x": "rule:base", "y": "rule:base and rule:x", "z": "rule:y or rule:x"})
    assert enforcer.authorize("z", {}, roles("a")) is True


# ---- files ------------------------------------------------------------------

def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def file_error(path, **kwargs) -> PolicyFileError:
    with pytest.raises(PolicyFileError) as err:
        Enforcer.from_file(path, **kwargs)
    return err.value


def test_json_file(tmp_path):
    path = write(tmp_path, "policy.json", '{"admin_api": "role:admin",\n "get": [["rule:admin_api"], ["user_id:%(user_id)s"]]}')
    enforcer = Enforcer.from_file(path)
    assert enforcer.authorize("get", {"user_id": "u2"}, MEMBER) is True
    assert enforcer.authorize("get", {"user_id": "u1"}, MEMBER) is False
    assert enforcer.authorize("get", {"user_id": "u9"}, ADMIN) is True


@pytest.mark.parametrize("name", ["policy.yaml", "policy.yml", "policy.conf"])
def test_yaml_file(tmp_path, name):
    path = write(tmp_path, name, '# overrides\nadmin_api: role:admin\n"get": "rule:admin_api or user_id:%(user_id)s"\n'
                                 'legacy:\n  - [role:a, "role:b"]\n')
    enforcer = Enforcer.from_file(path)
    assert enforcer.authorize("get", {"user_id": "u2"}, MEMBER) is True
    assert enforcer.authorize("get", {"user_id": "u1"}, MEMBER) is False
    assert enforcer.authorize("legacy", {}, roles("a", "b")) is True
    assert enforcer.authorize("legacy", {}, roles("a")) is False


def test_json_content_is_read_whatever_the_extension(tmp_path):
    enforcer = Enforcer.from_file(write(tmp_path, "policy", '{"a": "role:x"}'))
    assert enforcer.authorize("a", {}, roles("x")) is True


@pytest.mark.parametrize("text", ["", "\n", "# nothing overridden\n", "{}"])
def test_empty_file_overrides_nothing(tmp_path, text):
    enforcer = Enforcer.from_file(write(tmp_path, "policy.yaml", text), defaults={"a": "role:x"})
    assert enforcer.authorize("a", {}, roles("x")) is True


DEFAULTS = {"admin_required": "role:admin", "get_user": "rule:admin_required or user_id:%(user_id)s",
            "list_users": "rule:admin_required"}


def test_file_overrides_defaults(tmp_path):
    path = write(tmp_path, "policy.yaml", 'admin_required: "role:admin or role:superuser"\nnew_rule: rule:list_users\n')
    enforcer = Enforcer.from_file(path, defaults=DEFAULTS, default_rule="admin_required")
    assert enforcer.authorize("list_users", {}, roles("superuser")) is True  # through the overridden rule
    assert enforcer.authorize("new_rule", {}, roles("superuser")) is True
    assert enforcer.authorize("get_user", {"user_id": "u2"}, MEMBER) is True  # untouched default
    assert enforcer.authorize("unknown", {}, roles("superuser")) is True  # the default rule
    assert enforcer.authorize("unknown", {}, roles("member")) is False


def test_load_overrides_changes_nothing_when_the_file_is_bad(tmp_path):
    enforcer = Enforcer(DEFAULTS)
    enforcer.load_overrides(write(tmp_path, "a.json", '{"list_users": "@"}'))
    assert enforcer.authorize("list_users", {}, {}) is True
    before = dict(enforcer.rules)
    bad = write(tmp_path, "b.json", '{\n  "list_users": "!",\n  "get_user": "rule:admin_requird"\n}')
    with pytest.raises(PolicyFileError, match=re.escape(f"{bad}:3: rule 'get_user': unknown rule 'admin_requird'")):
        enforcer.load_overrides(bad)
    assert enforcer.rules == before
    assert enforcer.authorize("list_users", {}, {}) is True


def test_unreadable_file(tmp_path):
    err = file_error(tmp_path / "missing.yaml")
    assert str(err).startswith(f"{tmp_path / 'missing.yaml'}: cannot read")


# (file name, text, line reported, message contains)
BROKEN = [
    ("syntax.json", '{\n  "a": "role:x",\n  "b": role:y,\n  "c": "@"\n}\n', 3, "invalid JSON: Expecting value"),
    ("comma.json", '{\n  "a": "role:x",\n  "b": "role:y",\n}\n', 4, "invalid JSON"),
    ("syntax.yaml", 'a: role:x\nb: role:y\n  c: role:z\nd: "@"\n', 3, "invalid YAML: mapping values are not allowed"),
    ("tab.yaml", 'a: role:x\nb: [role:y\nc: "@"\n', 3, "invalid YAML"),
    ("at.yaml", "a: role:x\nb: role:y\nc: @\n", 3, "invalid YAML"),
    ("rule.json", '{\n  "a": "role:x",\n\n  "b": "role:y and",\n  "c": "@"\n}\n', 4,
     "rule 'b': expected a check after 'and' in 'role:y and'"),
    ("rule.yaml", "# comment\na: role:x\n\nb: (role:y\nc: '@'\n", 4, "rule 'b': unbalanced parenthesis in '(role:y'"),
    ("unknown.json", '{"a": "role:x",\n "b": "rule:nope"}', 2, "rule 'b': unknown rule 'nope'"),
    ("unknown.yaml", "a: role:x\nb: role:y\nc: rule:a or rule:nope\n", 3, "rule 'c': unknown rule 'nope'"),
    ("cycle.yaml", "a: role:x\nb: rule:c\nc: rule:b\n", 2, "rule 'b': rule cycle: b -> c -> b"),
    ("value.yaml", "a: role:x\nb: 3\n", 2, "rule 'b': a rule must be a string or a list, not int"),
    ("value.json", '{"a": "role:x",\n\n "b": {"x": 1}}', 3, "rule 'b': a rule must be a string or a list, not dict"),
    ("list.yaml", "a: role:x\nb:\n  - [role:a, 7]\n", 2, "rule 'b': a list rule holds lists of strings"),
    ("key.yaml", "a: role:x\n7: role:y\n", 2, "rule name 7 is not a string"),
    ("top.json", '\n\n["role:x"]\n', 3, "the top level must map rule names to rules, not be a list"),
    ("top.yaml", "# policy\n- role:x\n", 2, "the top level must map rule names to rules, not be a list"),
    ("scalar.yaml", "role:x\n", 1, "not be a str"),
    ("dup.json", '{"b": "@",\n "a": "role:x",\n "b": "role:y or"}', 3, "rule 'b'"),
]


@pytest.mark.parametrize("name,text,line,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_files_name_the_file_and_line(tmp_path, name, text, line, message):
    path = write(tmp_path, name, text)
    err = file_error(path, defaults={"x": "@"})
    assert str(err).startswith(f"{path}:{line}: "), str(err)
    assert message in str(err)
    assert (err.path, err.line) == (str(path), line)


def test_a_file_override_that_closes_a_cycle_with_the_defaults_is_blamed(tmp_path):
    path = write(tmp_path, "policy.yaml", "# override\nadmin_required: rule:list_users\n")
    err = file_error(path, defaults=DEFAULTS)
    assert str(err) == (f"{path}:2: rule 'admin_required': "
                        "rule cycle: admin_required -> list_users -> admin_required")


def test_default_rule_must_exist_after_loading(tmp_path):
    path = write(tmp_path, "policy.yaml", "fallback: role:admin\n")
    assert Enforcer.from_file(path, default_rule="fallback").authorize("x", {}, roles("admin")) is True
    with pytest.raises(PolicySyntaxError, match="default rule 'nope'"):
        Enforcer.from_file(path, default_rule="nope")


# ---- check kinds, service roles and the file's default rule (hardening item 20) ------------

SERVICE_CALL = {"user_id": "u1", "roles": ["member"], "service_roles": ["service", "Admin"]}


@pytest.mark.parametrize("rule,creds,expected", [
    ("service_role:service", SERVICE_CALL, True),
    ("service_role:SERVICE", SERVICE_CALL, True),  # any case, as role: is
    ("service_role:admin", SERVICE_CALL, True),
    ("service_role:member", SERVICE_CALL, False),  # the user's role, not the service's
    ("role:service", SERVICE_CALL, False),  # the service's role, not the user's
    ("service_role:service", {"roles": ["service"]}, False),  # no service token
    ("service_role:service", {"service_roles": []}, False),
    ("service_role:service and user_id:%(user_id)s", SERVICE_CALL, True),
    ("not service_role:service", SERVICE_CALL, False),
])
def test_service_role_checks_the_service_tokens_roles(rule, creds, expected):
    enforcer = Enforcer({"r": rule})
    assert enforcer.authorize("r", {"user_id": "u1"}, creds) is expected
    assert str(enforcer.rules["r"]) == str(parse_rule(str(enforcer.rules["r"])))


@pytest.mark.parametrize("rule,kind", [
    ("service_rol:service", "service_rol"),  # a typo
    ("role:a or (rol:b and user_id:u1)", "rol"),
    ("http://policy.example.test/check", "http"),  # oslo's HTTP check: not supported
    ("token.user.id:u1", "token.user.id"),  # not a credential of a consuming service
    ("not services_roles:x", "services_roles"),
    ([["role:a"], ["user_id:%(user_id)s", "groups:g1"]], "groups"),
])
def test_unknown_check_kinds_are_refused_by_the_enforcer(rule, kind):
    with pytest.raises(PolicySyntaxError) as err:
        Enforcer({"ok": "role:a", "bad": rule})
    message = str(err.value)
    assert message.startswith(f"rule 'bad': unknown check kind {kind!r} in '{kind}:"), message
    assert "service_role:" in message and "user_id" in message  # what would be known


def test_unknown_check_kinds_in_a_file_name_the_file_line_and_text(tmp_path):
    path = write(tmp_path, "policy.yaml", 'a: role:x\n"compute:create": "role:x and service_rol:service"\n')
    err = file_error(path)
    assert str(err).startswith(f"{path}:2: rule 'compute:create': unknown check kind 'service_rol' "
                               "in 'service_rol:service'"), str(err)
    enforcer = Enforcer({"a": "@"})
    with pytest.raises(PolicyFileError, match="unknown check kind 'service_rol'"):
        enforcer.load_overrides(path)
    assert set(enforcer.rules) == {"a"}  # nothing changed


def test_an_enforcer_checks_kinds_against_the_credentials_it_is_given():
    with pytest.raises(PolicySyntaxError, match="unknown check kind 'service_role'"):
        Enforcer({"a": "service_role:service"}, credential_keys={"user_id", "roles"})
    custom = Enforcer({"a": "count:3 and token.user.domain.id:d9"}, credential_keys={"count", "token"})
    assert custom.authorize("a", {}, NESTED) is True
    anything = Enforcer({"a": "anything.at.all:x"}, credential_keys=None)
    assert anything.authorize("a", {}, {"anything.at.all": "x"}) is True


def test_the_files_default_rule_decides_names_it_does_not_define(tmp_path):
    path = write(tmp_path, "policy.json", '{"default": "role:admin", "open": "@"}')
    enforcer = Enforcer.from_file(path)
    assert enforcer.default_rule == "default"
    assert enforcer.authorize("never:heard:of", {}, roles("admin")) is True
    assert enforcer.authorize("never:heard:of", {}, roles("member")) is False
    assert enforcer.authorize("open", {}, {}) is True

    overridden = Enforcer({"open": "@"})
    assert overridden.authorize("never:heard:of", {}, roles("admin")) is False  # no default
    overridden.load_overrides(path)
    assert overridden.authorize("never:heard:of", {}, roles("admin")) is True
    # the defaults' own `default` counts too, and a named default rule wins over it
    assert Enforcer({"default": "@"}).authorize("x", {}, {}) is True
    named = Enforcer.from_file(path, defaults={"fallback": "!"}, default_rule="fallback")
    assert named.authorize("never:heard:of", {}, roles("admin")) is False


def test_a_consuming_services_credentials_are_what_rules_are_checked_against():
    from identity_client.authz import credentials
    from identity_api.policy import CONTEXT_CREDENTIALS
    from identity_client.verifier import IdentityContext
    assert set(credentials(IdentityContext(user_id="u1"))) == CONTEXT_CREDENTIALS
