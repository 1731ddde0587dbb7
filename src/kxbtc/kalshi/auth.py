"""Kalshi request signing (kalshi-api.md §2) and, for the simulator, signature verification.

Signed text: ``timestamp_ms + METHOD + path``, where ``path`` is the full URL path from the root
(``/trade-api/v2/...`` or ``/trade-api/ws/v2``) without scheme, host, query string or fragment. RSA keys
sign with PSS / SHA-256 / MGF1-SHA-256 / 32-byte salt; Ed25519 keys sign the same text (raw 64-byte
signature). Both are sent as standard padded base64.

The private key never leaves this module's objects: no repr, log line or error message shows it.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from kxbtc.clock import Clock, SystemClock, now_ms
from kxbtc.errors import KeyFileError

if TYPE_CHECKING:
    from kxbtc.timesync import SkewGuard

KEY_HEADER = "KALSHI-ACCESS-KEY"
TIMESTAMP_HEADER = "KALSHI-ACCESS-TIMESTAMP"
SIGNATURE_HEADER = "KALSHI-ACCESS-SIGNATURE"

KeyType = Literal["rsa", "ed25519"]

#: How old a signature prepared ahead may be when it is sent (see ``Signer.presign``).
PRESIGN_MAX_AGE_MS = 1_500
#: ``presign`` renews a prepared signature older than this (the engine calls it every tick of 1 s).
PRESIGN_REFRESH_MS = 250
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey

# What Kalshi's docs and sample code use; verification accepts any salt length (see verify_signature).
_SIGN_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
_VERIFY_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)


def presign_path(path_or_url: str) -> str:
    """The path as Kalshi signs it: scheme, host, query and fragment removed; the API prefix kept.

    ``https://host/trade-api/v2/portfolio/orders?limit=5`` -> ``/trade-api/v2/portfolio/orders``.
    """
    if "://" in path_or_url:
        path = urlsplit(path_or_url).path
    else:
        path = path_or_url.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        # A relative path can only produce INCORRECT_API_KEY_SIGNATURE; fail here with the cause instead.
        raise ValueError(f"signing path must start with '/' (the full /trade-api/... path), got {path!r}")
    return path


def presign_text(ts_ms: int | str, method: str, path_or_url: str) -> bytes:
    """``timestamp + METHOD + path`` as UTF-8: the exact bytes that are signed."""
    return f"{ts_ms}{method.upper()}{presign_path(path_or_url)}".encode()


def load_private_key(pem: bytes) -> PrivateKey:
    """Parse an unencrypted RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8) private key PEM.

    Raises KeyFileError describing what is wrong, never quoting the bytes.
    """
    if b"PUBLIC KEY-----" in pem and b"PRIVATE KEY-----" not in pem:
        raise KeyFileError("this is a public key; signing needs the private key")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise KeyFileError("the private key is password-protected; use an unencrypted PEM") from None
    except (ValueError, UnsupportedAlgorithm):
        # The library's message may describe the content; ours names only the problem.
        raise KeyFileError("not a PEM private key (expected RSA or Ed25519 private key PEM)") from None
    if isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        return key
    raise KeyFileError(f"unsupported private key type {type(key).__name__}; Kalshi accepts RSA or Ed25519")


def key_type_of(key: PrivateKey | PublicKey) -> KeyType:
    return "rsa" if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) else "ed25519"


def load_public_key(pem: bytes) -> PublicKey:
    """Parse an RSA (SubjectPublicKeyInfo or PKCS#1) or Ed25519 public key PEM."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError("not a PEM public key (expected RSA or Ed25519 public key PEM)") from None
    if isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        return key
    raise KeyFileError(f"unsupported public key type {type(key).__name__}; Kalshi accepts RSA or Ed25519")


def public_key_pem(private_key_pem: bytes) -> bytes:
    """The SubjectPublicKeyInfo PEM of a private key: what gets registered with the exchange."""
    return (
        load_private_key(private_key_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def sign_text(key: PrivateKey, text: bytes) -> bytes:
    """Raw signature of ``text``: RSA-PSS (SHA-256, 32-byte salt) or Ed25519."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(text, _SIGN_PSS, hashes.SHA256())
    return key.sign(text)


def verify_signature(public_key: PublicKey, ts_ms: str, method: str, path: str, sig_b64: str) -> bool:
    """True iff ``sig_b64`` signs ``ts_ms + METHOD + path`` (query ignored) under ``public_key``.

    RSA-PSS is verified with automatic salt-length detection, so clients signing with DIGEST_LENGTH (the
    docs) and MAX_LENGTH (seen in third-party bots) both pass, as they reportedly do on Kalshi.
    """
    try:
        signature = base64.b64decode(sig_b64, validate=True)
        text = presign_text(ts_ms, method, path)
    except (binascii.Error, ValueError):
        return False
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, text, _VERIFY_PSS, hashes.SHA256())
        else:
            public_key.verify(signature, text)
    except InvalidSignature:
        return False
    return True


class Signer:
    """Produces the three KALSHI-ACCESS-* headers for one API key.

    ``clock`` should be the corrected clock of a ``kxbtc.timesync.ClockSync``; with ``skew_guard`` set,
    signing from the clock is refused (ClockSkewError) while the guard distrusts it. An explicit ``ts_ms``
    is the caller's decision (replays, skew tests) and bypasses the guard.
    """

    __slots__ = ("_clock", "_guard", "_key", "_presigned", "key_id", "key_type")

    def __init__(
        self,
        key_id: str,
        private_key_pem: bytes | str,
        clock: Clock | None = None,
        skew_guard: SkewGuard | None = None,
    ) -> None:
        if not key_id or not key_id.strip():
            raise KeyFileError("API key id is empty")
        self.key_id = key_id
        pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        self._key = load_private_key(pem)
        self.key_type: KeyType = key_type_of(self._key)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._guard = skew_guard
        #: (method, path) -> (timestamp ms, signature): prepared ahead for the order path.
        self._presigned: dict[tuple[str, str], tuple[int, str]] = {}

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r}, key_type={self.key_type!r})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the key wherever the pickle goes; refuse rather than leak.
        raise TypeError("Signer holds a private key and cannot be pickled")

    def public_key_pem(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, ts_ms: int | str, method: str, path_or_url: str) -> str:
        """Base64 signature of ``ts_ms + METHOD + path`` (no guard check, no clock read)."""
        raw = sign_text(self._key, presign_text(ts_ms, method, path_or_url))
        return base64.b64encode(raw).decode("ascii")

    def headers(self, method: str, path: str, ts_ms: int | None = None) -> dict[str, str]:
        """Headers for one request; sign immediately before sending and never reuse them on a retry."""
        if ts_ms is None:
            if self._guard is not None:
                self._guard.check()
            ts_ms = now_ms(self._clock)
        return {
            KEY_HEADER: self.key_id,
            TIMESTAMP_HEADER: str(ts_ms),
            SIGNATURE_HEADER: self.sign(ts_ms, method, path),
        }

    # -- signatures prepared ahead (the order path) ---------------------------------------------------
    #
    # The signature covers ``timestamp + METHOD + path`` and not the body, so the one for the next order
    # can be made before the order exists, off the hot path (RSA-PSS costs a few hundred us to 2 ms).
    # A prepared signature is used only while it is at most ``PRESIGN_MAX_AGE_MS`` (1.5 s) old by our clock.
    # Kalshi accepts a timestamp 5 s in the past (errata 11: accepted at -5 s, rejected at -30 s), and
    # the risk gate halts trading when our clock's error bound exceeds ``max_clock_skew_ms`` (2 s by
    # default): 1.5 s + 2 s stays inside the 5 s. A clock stepped backwards below the timestamp makes the
    # prepared one unusable at once (its age is negative), and it is signed afresh.

    def presign(self, method: str, path: str) -> None:
        """Prepare the signature for the next ``presigned_headers(method, path)`` unless the one held is
        under ``PRESIGN_REFRESH_MS`` old; cheap then. Never raises for a distrusted clock (it just skips)."""
        now = now_ms(self._clock)
        held = self._presigned.get((method, path))
        if held is not None and 0 <= now - held[0] <= PRESIGN_REFRESH_MS:
            return
        if self._guard is not None and self._guard.refusal() is not None:
            return
        self._presigned[(method, path)] = (now, self.sign(now, method, path))

    def presigned_headers(self, method: str, path: str) -> dict[str, str] | None:
        """Headers from a prepared signature that is fresh enough, or None (then sign with ``headers``).
        The skew guard is consulted as for ``headers``."""
        held = self._presigned.get((method, path))
        if held is None or not 0 <= now_ms(self._clock) - held[0] <= PRESIGN_MAX_AGE_MS:
            return None
        if self._guard is not None:
            self._guard.check()
        return {KEY_HEADER: self.key_id, TIMESTAMP_HEADER: str(held[0]), SIGNATURE_HEADER: held[1]}
