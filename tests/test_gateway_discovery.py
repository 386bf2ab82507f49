"""Version discovery and the gateway's envelope, compared with the reference wire format."""

import urllib.error
import urllib.request

from support import SAMPLES



def fetch(url: str, method: str = "GET", headers: dict | None = None):
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def _rebase(text: str, base: str) -> str:
    return text.replace("http://127.0.0.1:5000", base)


def test_root_answers_300_with_the_versions_document(gateway):
    status, headers, body = fetch(gateway + "/", headers={"Accept": "application/json"})
    expected = SAMPLES["01-get-root"]["response"]
    assert status == 300
    assert body == _rebase(expected["raw_body"], gateway)
    assert headers["Location"] == f"{gateway}/v3/"
    assert headers["Content-Type"] == "application/json"
    assert headers["Vary"] == "X-Auth-Token"
    assert headers["x-openstack-request-id"].startswith("req-")


def test_v3_answers_the_version_document_with_or_without_a_slash(gateway):
    expected = SAMPLES["02-get-v3"]["response"]["raw_body"]
    for path in ("/v3", "/v3/"):
        status, headers, body = fetch(gateway + path)
        assert (status, body) == (200, _rebase(expected, gateway))


def test_unknown_path_gets_the_html_404(gateway):
    status, headers, body = fetch(gateway + "/nope")
    expected = SAMPLES["50-not-found-path"]["response"]
    assert (status, body) == (404, expected["raw_body"])
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Vary"] == "X-Auth-Token"
