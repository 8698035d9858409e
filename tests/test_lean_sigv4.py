"""The lean transport's SigV4 signer against botocore's ``SigV4Auth``: random requests,
signed by both, must carry the same ``Authorization`` header, byte for byte."""

from __future__ import annotations

import string

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamorm_async._lean.sigv4 import Signer, canonical_path

_TOKEN = st.text(string.ascii_letters + string.digits + "+/=", min_size=1, max_size=40)
_HEADER_NAME = st.text(string.ascii_letters + "-", min_size=1, max_size=20).filter(
    lambda n: n.lower() not in {"authorization", "x-amz-date", "host", "x-amz-security-token"}
)
# Header values as a client sends them: printable text, with runs of spaces to collapse.
_HEADER_VALUE = st.text(string.ascii_letters + string.digits + " -_.:/;,=", max_size=30).map(
    lambda v: v.strip() or "v"
)
_SEGMENT = st.text(string.ascii_letters + string.digits + "-_.~%!$&'()*+,;=:@ ", max_size=8)


@st.composite
def requests(draw: st.DrawFn) -> dict:
    segments = draw(st.lists(st.one_of(_SEGMENT, st.sampled_from([".", "..", ""])), max_size=4))
    path = "/" + "/".join(segments)
    port = draw(st.sampled_from(["", ":8000", ":443"]))
    headers = {
        "X-Amz-Target": "DynamoDB_20120810." + draw(st.sampled_from(["GetItem", "Query"])),
        "Content-Type": "application/x-amz-json-1.0",
    }
    headers.update(draw(st.dictionaries(_HEADER_NAME, _HEADER_VALUE, max_size=3)))
    return {
        "host": "dynamodb.eu-west-1.amazonaws.com" + port,
        "path": path,
        "headers": headers,
        "body": draw(st.binary(max_size=200)),
        "access": draw(_TOKEN),
        "secret": draw(_TOKEN),
        "token": draw(st.one_of(st.none(), _TOKEN)),
        "region": draw(st.sampled_from(["eu-west-1", "us-east-1", "ap-southeast-2", "cn-north-1"])),
    }


@settings(max_examples=300, deadline=None)
@given(requests())
def test_signatures_match_botocores_byte_for_byte(r: dict) -> None:
    url = f"https://{r['host']}{r['path']}"
    theirs = AWSRequest(method="POST", url=url, data=r["body"], headers=dict(r["headers"]))
    credentials = Credentials(r["access"], r["secret"], r["token"])
    SigV4Auth(credentials, "dynamodb", r["region"]).add_auth(theirs)
    amz_date = theirs.headers["X-Amz-Date"]

    # Our client sends Host (as botocore computes it) and signs what it sends.
    host = r["host"].removesuffix(":443")
    headers = {"Host": host, **r["headers"], "X-Amz-Date": amz_date}
    if r["token"]:
        headers["X-Amz-Security-Token"] = r["token"]
    ours = Signer(r["region"]).authorization(
        "POST", r["path"], headers, r["body"], amz_date, r["access"], r["secret"]
    )
    assert ours == theirs.headers["Authorization"]


def test_the_signing_key_is_derived_once_a_day_and_again_for_a_new_secret() -> None:
    signer = Signer("eu-west-1")
    headers = {"Host": "h", "X-Amz-Date": "20261202T101010Z"}
    first = signer.authorization("POST", "/", headers, b"{}", "20261202T101010Z", "AK", "s1")
    cached = signer._key
    signer.authorization("POST", "/", headers, b"{}", "20261202T235959Z", "AK", "s1")
    assert signer._key is cached  # same day, same secret: not derived again
    other = signer.authorization("POST", "/", headers, b"{}", "20261202T101010Z", "AK", "s2")
    assert other != first and signer._key is not cached


def test_canonical_paths_follow_rfc_3986_dot_segment_removal() -> None:
    assert canonical_path("") == "/"
    assert canonical_path("/") == "/"
    assert canonical_path("/a/./b/../c/") == "/a/c/"
    assert canonical_path("/a//b") == "/a/b"
    assert canonical_path("/a b/~x") == "/a%20b/~x"


@settings(max_examples=200, deadline=None)
@given(requests())
def test_the_json_request_fast_path_signs_as_the_general_one(r: dict) -> None:
    """The lean client signs its fixed header set without the normalization loop."""
    signer = Signer(r["region"])
    target = r["headers"]["X-Amz-Target"]
    content_type = r["headers"]["Content-Type"]
    headers = {
        "Host": r["host"],
        "X-Amz-Date": "20261202T101010Z",
        "X-Amz-Target": target,
        "Content-Type": content_type,
    }
    if r["token"]:
        headers["X-Amz-Security-Token"] = r["token"]
    general = signer.authorization(
        "POST", r["path"], headers, r["body"], "20261202T101010Z", r["access"], r["secret"]
    )
    fast = signer.json_request(
        r["path"],
        r["host"],
        target,
        content_type,
        r["body"],
        "20261202T101010Z",
        r["access"],
        r["secret"],
        r["token"],
    )
    assert fast == general
