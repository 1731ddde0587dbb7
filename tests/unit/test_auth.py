"""Kalshi request signing: what is signed, that independent tools verify it, and that the key stays secret."""

from __future__ import annotations

import base64
import hashlib
import logging
import pickle
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from kxbtc.clock import ManualClock, now_ms
from kxbtc.errors import ClockSkewError, KeyFileError
from kxbtc.kalshi.auth import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Signer,
    load_private_key,
    load_public_key,
    presign_path,
    presign_text,
    public_key_pem,
    verify_signature,
)
from kxbtc.timesync import OffsetMeasurement, SkewGuard

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command line tool is not installed")

TS = 1703123456789
URL = "https://external-api.kalshi.com/trade-api/v2/portfolio/orders?limit=5"
SIGNED_PATH = "/trade-api/v2/portfolio/orders"


def _pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, fmt: serialization.PrivateFormat) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rsa_pkcs1_pem(rsa_key: rsa.RSAPrivateKey) -> bytes:
    # The format Kalshi's website hands out.
    return _pem(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL)


@pytest.fixture(scope="module")
def ed25519_pem() -> bytes:
    return _pem(ed25519.Ed25519PrivateKey.generate(), serialization.PrivateFormat.PKCS8)


def _openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *map(str, args)], capture_output=True, text=True, timeout=30)


# --- what is signed ---------------------------------------------------------------------------------------


def test_presign_text_of_full_url_drops_scheme_host_and_query() -> None:
    assert presign_text(TS, "GET", URL) == f"{TS}GET{SIGNED_PATH}".encode()
    assert presign_text(TS, "get", URL) == f"{TS}GET{SIGNED_PATH}".encode()


@pytest.mark.parametrize(
    ("given", "signed"),
    [
        ("/trade-api/v2/portfolio/fills?limit=10", "/trade-api/v2/portfolio/fills"),
        ("/trade-api/v2/markets?cursor=a%3Fb#frag", "/trade-api/v2/markets"),
        ("wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2", "/trade-api/ws/v2"),
        ("http://127.0.0.1:8080/trade-api/v2/portfolio/balance", "/trade-api/v2/portfolio/balance"),
        ("/trade-api/v2/portfolio/events/orders", "/trade-api/v2/portfolio/events/orders"),
    ],
)
def test_presign_path(given: str, signed: str) -> None:
    assert presign_path(given) == signed


def test_relative_path_is_refused_rather_than_signed_wrongly() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        presign_path("portfolio/balance")


@pytest.mark.parametrize(
    "fmt", [serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8]
)
def test_headers_are_exactly_the_three_kalshi_headers(
    rsa_key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat
) -> None:
    clock = ManualClock()
    signer = Signer("a952bcbe-ec3b-4b5b-b8f9-11dae589608c", _pem(rsa_key, fmt), clock=clock)
    headers = signer.headers("GET", URL)
    assert set(headers) == {KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER}
    assert headers[KEY_HEADER] == "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
    assert headers[TIMESTAMP_HEADER] == str(now_ms(clock))
    assert signer.key_type == "rsa"
    public = rsa_key.public_key()
    assert verify_signature(public, headers[TIMESTAMP_HEADER], "GET", SIGNED_PATH, headers[SIGNATURE_HEADER])


def test_each_request_gets_a_fresh_timestamp_from_the_clock(rsa_pkcs1_pem: bytes) -> None:
    clock = ManualClock()
    signer = Signer("kid", rsa_pkcs1_pem, clock=clock)
    first = signer.headers("POST", "/trade-api/v2/portfolio/events/orders")
    clock.advance(1.5)
    second = signer.headers("POST", "/trade-api/v2/portfolio/events/orders")
    assert int(second[TIMESTAMP_HEADER]) - int(first[TIMESTAMP_HEADER]) == 1500


# --- independent verification with the openssl command line -----------------------------------------------


@needs_openssl
def test_rsa_signature_verifies_under_openssl_with_32_byte_salt(tmp_path: Path) -> None:
    # The key comes from openssl too, in the PKCS#1 form Kalshi hands out.
    key_path = tmp_path / "key.pem"
    assert _openssl("genrsa", "-traditional", "-out", key_path, "2048").returncode == 0
    pem = key_path.read_bytes()
    assert pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    (tmp_path / "pub.pem").write_bytes(public_key_pem(pem))

    headers = Signer("kid", pem).headers("GET", URL, ts_ms=TS)
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(headers[SIGNATURE_HEADER], validate=True))
    (tmp_path / "msg.txt").write_bytes(f"{TS}GET{SIGNED_PATH}".encode())  # no query string
    (tmp_path / "with_query.txt").write_bytes(f"{TS}GET{SIGNED_PATH}?limit=5".encode())

    dgst: list[str | Path] = [
        "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1",
        "-verify", tmp_path / "pub.pem", "-signature", tmp_path / "sig.bin",
    ]  # fmt: skip
    ok = _openssl(*dgst, tmp_path / "msg.txt")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Verified OK" in ok.stdout
    assert _openssl(*dgst, tmp_path / "with_query.txt").returncode != 0

    # Salt length exactly 32 (the digest length), checked over the SHA-256 of the pre-sign text.
    (tmp_path / "msg.sha256").write_bytes(hashlib.sha256((tmp_path / "msg.txt").read_bytes()).digest())
    strict = _openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", tmp_path / "pub.pem",
        "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:32", "-pkeyopt", "digest:sha256",
        "-in", tmp_path / "msg.sha256", "-sigfile", tmp_path / "sig.bin",
    )  # fmt: skip
    assert strict.returncode == 0, strict.stdout + strict.stderr
    assert "Signature Verified Successfully" in strict.stdout


@needs_openssl
def test_ed25519_signature_verifies_under_openssl(tmp_path: Path) -> None:
    key_path = tmp_path / "key.pem"
    assert _openssl("genpkey", "-algorithm", "ed25519", "-out", key_path).returncode == 0
    pem = key_path.read_bytes()
    (tmp_path / "pub.pem").write_bytes(public_key_pem(pem))

    signer = Signer("kid", pem)
    assert signer.key_type == "ed25519"
    headers = signer.headers("GET", "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2", ts_ms=TS)
    signature = base64.b64decode(headers[SIGNATURE_HEADER], validate=True)
    assert len(signature) == 64
    (tmp_path / "sig.bin").write_bytes(signature)
    (tmp_path / "msg.txt").write_bytes(f"{TS}GET/trade-api/ws/v2".encode())
    result = _openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", tmp_path / "pub.pem", "-rawin",
        "-in", tmp_path / "msg.txt", "-sigfile", tmp_path / "sig.bin",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Signature Verified Successfully" in result.stdout


# --- server-side verification (the simulator) -------------------------------------------------------------


def test_verify_accepts_digest_and_max_length_salts(rsa_key: rsa.RSAPrivateKey) -> None:
    text = f"{TS}GET{SIGNED_PATH}".encode()
    public = load_public_key(public_key_pem(_pem(rsa_key, serialization.PrivateFormat.PKCS8)))
    for salt in (padding.PSS.DIGEST_LENGTH, padding.PSS.MAX_LENGTH):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt)
        sig = base64.b64encode(rsa_key.sign(text, pss, hashes.SHA256())).decode()
        assert verify_signature(public, str(TS), "GET", URL, sig)


def test_verify_rejects_anything_that_does_not_match(rsa_pkcs1_pem: bytes, ed25519_pem: bytes) -> None:
    for pem in (rsa_pkcs1_pem, ed25519_pem):
        public = load_public_key(public_key_pem(pem))
        sig = Signer("kid", pem).headers("GET", SIGNED_PATH, ts_ms=TS)[SIGNATURE_HEADER]
        assert verify_signature(public, str(TS), "GET", SIGNED_PATH, sig)
        assert not verify_signature(public, str(TS + 1), "GET", SIGNED_PATH, sig)
        assert not verify_signature(public, str(TS), "POST", SIGNED_PATH, sig)
        assert not verify_signature(public, str(TS), "GET", "/trade-api/v2/portfolio/balance", sig)
        assert not verify_signature(public, str(TS), "GET", "/portfolio/orders", sig)  # short path
        assert not verify_signature(public, str(TS), "GET", SIGNED_PATH, "not base64!")
        assert not verify_signature(public, str(TS), "GET", SIGNED_PATH, sig[:-8] + "AAAAAAA=")
        other = Signer("kid", _pem(ed25519.Ed25519PrivateKey.generate(), serialization.PrivateFormat.PKCS8))
        assert not verify_signature(public, str(TS), "GET", SIGNED_PATH, other.sign(TS, "GET", SIGNED_PATH))


def test_public_key_formats(rsa_key: rsa.RSAPrivateKey) -> None:
    pkcs1_public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )
    assert isinstance(load_public_key(pkcs1_public), rsa.RSAPublicKey)
    with pytest.raises(KeyFileError, match="not a PEM public key"):
        load_public_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


# --- the private key stays secret -------------------------------------------------------------------------


def _secret_lines(pem: bytes) -> list[str]:
    return [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]


def test_signer_repr_str_and_logs_do_not_show_the_key(
    rsa_pkcs1_pem: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        signer = Signer("kid-1", rsa_pkcs1_pem)
        signer.headers("GET", URL)
    shown = repr(signer) + str(signer) + caplog.text
    assert repr(signer) == "Signer(key_id='kid-1', key_type='rsa')"
    for line in _secret_lines(rsa_pkcs1_pem):
        assert line not in shown
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)


@pytest.mark.parametrize(
    ("pem", "message"),
    [
        (b"SECRETSECRETSECRET not a key at all", "not a PEM private key"),
        (
            b"-----BEGIN PRIVATE KEY-----\nU0VDUkVUU0VDUkVUU0VDUkVU\n-----END PRIVATE KEY-----\n",
            "not a PEM private key",
        ),
        (b"", "not a PEM private key"),
    ],
)
def test_bad_pem_errors_do_not_echo_the_bytes(pem: bytes, message: str) -> None:
    with pytest.raises(KeyFileError, match=message) as info:
        Signer("kid", pem)
    text = str(info.value) + repr(info.value)
    assert "SECRET" not in text and "U0VDUkVU" not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_truncated_real_key_error_does_not_echo_it(rsa_pkcs1_pem: bytes) -> None:
    lines = rsa_pkcs1_pem.splitlines(keepends=True)
    broken = b"".join(lines[:8] + lines[-1:])
    with pytest.raises(KeyFileError) as info:
        Signer("kid", broken)
    for line in _secret_lines(broken):
        assert line not in str(info.value)


def test_wrong_kinds_of_key_are_refused_with_the_reason(rsa_key: rsa.RSAPrivateKey) -> None:
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(KeyFileError, match="public key"):
        Signer("kid", public)
    encrypted = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(KeyFileError, match="password-protected"):
        load_private_key(encrypted)
    ec_pem = _pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8)  # type: ignore[arg-type]
    with pytest.raises(KeyFileError, match="unsupported private key type"):
        load_private_key(ec_pem)
    with pytest.raises(KeyFileError, match="key id is empty"):
        Signer(" ", _pem(rsa_key, serialization.PrivateFormat.PKCS8))


# --- skew guard -------------------------------------------------------------------------------------------


def test_guard_refuses_to_sign_with_an_untrusted_clock(ed25519_pem: bytes) -> None:
    clock = ManualClock()
    guard = SkewGuard(max_offset_ms=1000, clock=clock)
    signer = Signer("kid", ed25519_pem, clock=clock, skew_guard=guard)
    with pytest.raises(ClockSkewError, match="not measured yet"):
        signer.headers("GET", SIGNED_PATH)

    three_s_off = OffsetMeasurement(3_200_000_000, 20_000_000, "ntp", "1/1 servers answered (ntp.test)")
    guard.update(three_s_off, corrected=False)
    with pytest.raises(ClockSkewError) as info:
        signer.headers("GET", SIGNED_PATH)
    message = str(info.value)
    assert "+3.200 s" in message and "1.000 s bound" in message and "ntp" in message and "ntp.test" in message

    # An explicit timestamp is the caller's decision and is signed as given.
    assert signer.headers("GET", SIGNED_PATH, ts_ms=TS)[TIMESTAMP_HEADER] == str(TS)

    guard.update(three_s_off, corrected=True)  # the clock now includes the offset: only ±20 ms remains
    assert signer.headers("GET", SIGNED_PATH)[TIMESTAMP_HEADER] == str(now_ms(clock))
