"""The domain configuration store on every backend: options are set, replaced, read
(by group, by option, sensitive or not) and deleted, values kept as the JSON they were;
and a domain's options go with it."""

from identity_grpc.store.domain_config import ConfigOption

from .helpers import another_domain


def test_options_are_set_read_replaced_and_deleted(store):
    domain = another_domain(store)
    config = store.domain_config
    config.put(domain, [ConfigOption("ldap", "url", "ldap://x", False),
                        ConfigOption("ldap", "password", "s3cret", True),
                        ConfigOption("identity", "list_limit", 5, False),
                        ConfigOption("ldap", "user_attribute_ignore", ["a", None], False)])
    assert [(o.group, o.option, o.value) for o in config.options(domain)] == [
        ("identity", "list_limit", 5), ("ldap", "password", "s3cret"),
        ("ldap", "url", "ldap://x"), ("ldap", "user_attribute_ignore", ["a", None])]
    assert [o.option for o in config.options(domain, sensitive=False)] == [
        "list_limit", "url", "user_attribute_ignore"]
    assert [o.option for o in config.options(domain, sensitive=True)] == ["password"]
    assert [o.option for o in config.options(domain, "ldap", "url")] == ["url"]
    config.put(domain, [ConfigOption("ldap", "url", "ldap://y", False)])
    assert config.options(domain, "ldap", "url")[0].value == "ldap://y"
    assert config.delete(domain, "ldap", "url") == 1
    assert config.delete(domain, "ldap") == 2
    assert [o.option for o in config.options(domain)] == ["list_limit"]
    assert config.delete(domain) == 1 and config.options(domain) == []


def test_domains_have_configurations_of_their_own(store, default_domain):
    other = another_domain(store)
    store.domain_config.put(other, [ConfigOption("identity", "driver", "ldap", False)])
    assert store.domain_config.options(default_domain) == []
    assert store.domain_config.delete(default_domain) == 0
    assert len(store.domain_config.options(other)) == 1


def test_a_domains_options_go_with_it(store):
    domain = another_domain(store)
    store.domain_config.put(domain, [ConfigOption("identity", "driver", "ldap", False)])
    assert store.resources.delete_domain(domain) == 1
    assert store.tables.DomainConfigOption.select().count() == 0
