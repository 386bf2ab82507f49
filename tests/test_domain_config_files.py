"""Domain configurations from `domain_config_dir` (Keystone's keystone.<domain>.conf
files): a domain with a file takes its configuration from it, read again when it
changes, on a real core over a real store."""

import os
from types import SimpleNamespace

import pytest

from conftest import start_service
from identity_grpc.domain_config import DomainConfig
from identity_grpc.domain_config_files import DomainConfigFiles
from identity_grpc.errors import FailedPrecondition


@pytest.fixture
def files_service(deployment, tmp_path):
    running = start_service(deployment.replace(domain_config_dir=str(tmp_path / "domains")))
    (tmp_path / "domains").mkdir()
    yield running, tmp_path / "domains"
    running.stop()


def test_a_domains_file_is_its_configuration_and_is_read_again_when_it_changes(files_service):
    service, directory = files_service
    staff = service.core.resources.create_domain("Staff").id
    service.core.domain_config.create(staff, {"identity": {"driver": "sql"}})
    # A DomainConfig of its own over the same store and directory: the running core's
    # watcher asks its own for changes on every tick, and would take them first.
    core = SimpleNamespace(domain_config=DomainConfig(service.core.store, service.core.writer,
                                                      DomainConfigFiles(str(directory))))
    assert core.domain_config.effective(staff) == {"identity": {"driver": "sql"}}
    core.domain_config.changed_files()  # what is there now
    path = directory / "keystone.Staff.conf"
    path.write_text("[identity]\ndriver = ldap\n\n[ldap]\nurl = ldap://127.0.0.1:1\n"
                    "page_size = 50\nuse_tls = true\nuser_tree_dn = ou=Users,dc=example,dc=org\n")
    assert core.domain_config.changed_files() == [staff]
    assert core.domain_config.effective(staff) == {
        "identity": {"driver": "ldap"},
        "ldap": {"url": "ldap://127.0.0.1:1", "page_size": 50, "use_tls": True,
                 "user_tree_dn": "ou=Users,dc=example,dc=org"}}
    assert core.domain_config.changed_files() == []
    path.write_text("[identity]\ndriver = sql\n")
    os.utime(path, ns=(1, 1))  # a new mtime however fast the rewrite was
    assert core.domain_config.changed_files() == [staff]
    assert core.domain_config.effective(staff) == {"identity": {"driver": "sql"}}
    path.unlink()
    assert core.domain_config.changed_files() == [staff]
    assert core.domain_config.effective(staff) == {"identity": {"driver": "sql"}}  # the API's


@pytest.mark.parametrize("text, says", [
    ("[identity]\ndriver = ldap\n[ldap]\npage_size = many\n", "ldap.page_size"),
    ("[identity]\ndriver = ldap\n[ldap]\nuse_tls = perhaps\n", "ldap.use_tls"),
    ("[nosuchgroup]\noption = 1\n", "nosuchgroup"),
    ("not an ini file", "unreadable"),
])
def test_a_bad_file_is_a_clear_precondition_failure(files_service, text, says):
    service, directory = files_service
    core = service.core
    staff = core.resources.create_domain("Staff").id
    (directory / "keystone.Staff.conf").write_text(text)
    with pytest.raises(FailedPrecondition) as refused:
        core.domain_config.effective(staff)
    assert "keystone.Staff.conf" in str(refused.value) and says in str(refused.value)
