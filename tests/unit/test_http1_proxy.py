"""Egress through an HTTP proxy (providers/egress_proxy.py, http1.py): environment parsing, NO_PROXY, the
absolute form for http, CONNECT + TLS for https, proxy credentials. The upstream's name does not resolve:
an answer proves the proxy carried the request."""

from __future__ import annotations

import asyncio
import base64
import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support.http_proxy import ForwardProxy
from support.raw_http import RawRequest, RawServer, response
from switchyard.providers.egress_proxy import Proxy, ProxySettings
from switchyard.providers.http1 import HTTPError, Pool

NAME = "upstream.switchyard.test"  # .test never resolves (RFC 2606)
T = {"connect_timeout": 5.0, "read_timeout": 5.0, "total_timeout": 10.0}
BASIC = "Basic " + base64.b64encode(b"egress:p@ss word").decode()


async def echo(req: RawRequest, w: asyncio.StreamWriter) -> bool:
    w.write(response(200, f"{req.method} {req.target} host={req.headers.get('host')}".encode()))
    await w.drain()
    return True


# -- environment -------------------------------------------------------------------------------------------


def test_from_env_upper_case_wins_and_credentials_become_basic_auth():
    s = ProxySettings.from_env(
        {
            "HTTPS_PROXY": "http://egress:p%40ss%20word@proxy.corp:3128",
            "https_proxy": "http://other:1",
            "http_proxy": "proxy.corp",
        }
    )
    assert s.https == Proxy("proxy.corp", 3128, BASIC)
    assert s.http == Proxy("proxy.corp", 80, None)
    assert "p@ss" not in repr(s.https) and "egress" not in repr(s.https)


@pytest.mark.parametrize(
    "value", ["https://proxy.corp:443", "socks5://proxy.corp:1080", "http://proxy.corp:99999", "http://:8080"]
)
def test_an_unusable_proxy_url_names_the_variable(value):
    with pytest.raises(ValueError, match="HTTPS_PROXY"):
        ProxySettings.from_env({"HTTPS_PROXY": value})


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "proxied"),
    [
        ("", "api.openai.com", 443, True),
        ("*", "api.openai.com", 443, False),
        ("openai.com", "api.openai.com", 443, False),
        ("openai.com", "openai.com", 443, False),
        (".openai.com", "openai.com", 443, True),
        (".openai.com", "api.openai.com", 443, False),
        ("*.openai.com", "api.openai.com", 443, False),
        ("notopenai.com", "api.openai.com", 443, True),
        ("api.openai.com:8443", "api.openai.com", 443, True),
        ("api.openai.com:443", "api.openai.com", 443, False),
        ("10.0.0.0/8, 192.168.1.5", "10.2.3.4", 443, False),
        ("10.0.0.0/8 192.168.1.5", "192.168.1.5", 443, False),
        ("10.0.0.0/8", "11.0.0.1", 443, True),
        ("[fd00::]/8", "fd00::1", 443, True),  # brackets only around an address, not a network
        ("fd00::/8", "fd00::1", 443, False),
        ("[fd00::1]:443", "fd00::1", 443, False),
        ("API.OpenAI.com", "api.openai.com", 443, False),
        ("", "localhost", 443, False),  # as Go: loopback is never proxied
        ("", "127.0.0.1", 443, False),
        ("", "::1", 443, False),
    ],
)
def test_no_proxy(no_proxy, host, port, proxied):
    s = ProxySettings(https=Proxy("proxy.corp", 3128, None), no_proxy=no_proxy)
    assert (s.proxy_for("https", host, port) is not None) is proxied


def test_http_and_https_proxies_are_separate():
    s = ProxySettings(https=Proxy("proxy.corp", 3128, None))
    assert s.proxy_for("http", "example.com", 80) is None
    assert s.proxy_for("https", "example.com", 443) is not None


# -- through a real proxy --------------------------------------------------------------------------------


async def test_http_goes_to_the_proxy_in_absolute_form_with_credentials():
    upstream = await RawServer(echo).start()
    proxy = await ForwardProxy(("127.0.0.1", upstream.port), authorization=BASIC).start()
    pool = Pool(proxies=ProxySettings(http=Proxy("127.0.0.1", proxy.port, BASIC)))
    try:
        for _ in range(2):
            resp = await pool.request("POST", f"http://{NAME}:{upstream.port}/v1/chat?a=1", {}, b"{}", **T)
            assert (
                await resp.read()
                == f"POST http://{NAME}:{upstream.port}/v1/chat?a=1 host={NAME}:{upstream.port}".encode()
            )
        assert proxy.seen[0][2]["proxy-authorization"] == BASIC
        assert len(proxy.seen) == 1 and upstream.connections == 1  # the proxied connection was kept alive
    finally:
        await pool.close()
        await proxy.stop()
        await upstream.stop()


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


async def test_https_goes_through_a_connect_tunnel_and_verifies_the_origin(tmp_path):
    cert, key = _certificate(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    upstream = await RawServer(echo, ssl_context=server_ctx).start()
    proxy = await ForwardProxy(("127.0.0.1", upstream.port), authorization=BASIC).start()
    proxies = ProxySettings(https=Proxy("127.0.0.1", proxy.port, BASIC))
    pool = Pool(proxies=proxies, ssl_context=ssl.create_default_context(cafile=str(cert)))
    try:
        for _ in range(2):
            resp = await pool.request("POST", f"https://{NAME}:{upstream.port}/v1/chat", {}, b"{}", **T)
            assert await resp.read() == f"POST /v1/chat host={NAME}:{upstream.port}".encode()
        assert [s[:2] for s in proxy.seen] == [("CONNECT", f"{NAME}:{upstream.port}")]
        # the origin's certificate is checked through the tunnel: a client that does not trust it refuses
        strict = Pool(proxies=proxies)
        with pytest.raises(HTTPError, match="cannot connect"):
            await strict.request("POST", f"https://{NAME}:{upstream.port}/v1/chat", {}, b"{}", **T)
        assert strict.open_connections(("https", NAME, upstream.port)) == 0
    finally:
        await pool.close()
        await proxy.stop()
        await upstream.stop()


async def test_a_proxy_that_refuses_the_tunnel_is_a_clean_error():
    upstream = await RawServer(echo).start()
    proxy = await ForwardProxy(("127.0.0.1", upstream.port), authorization=BASIC).start()
    pool = Pool(proxies=ProxySettings(https=Proxy("127.0.0.1", proxy.port, None)))
    try:
        with pytest.raises(HTTPError, match="407") as err:
            await pool.request("POST", f"https://{NAME}/v1/chat", {}, b"{}", **T)
        assert err.value.before_response and f"refused the tunnel to {NAME}:443" in str(err.value)
        assert pool.open_connections(("https", NAME, 443)) == 0
    finally:
        await pool.close()
        await proxy.stop()
        await upstream.stop()


async def test_no_proxy_hosts_are_reached_directly():
    upstream = await RawServer(echo).start()
    proxy = await ForwardProxy(("127.0.0.1", upstream.port)).start()
    pool = Pool(proxies=ProxySettings(http=Proxy("127.0.0.1", proxy.port, None)))
    try:
        resp = await pool.request("POST", f"{upstream.url}/x", {}, b"{}", **T)  # 127.0.0.1: loopback, direct
        assert (await resp.read()).startswith(b"POST /x ")
        assert proxy.seen == []
    finally:
        await pool.close()
        await proxy.stop()
        await upstream.stop()
