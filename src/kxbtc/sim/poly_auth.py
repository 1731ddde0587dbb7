"""The simulated Polymarket venue's authentication, checked the way the exchange checks it.

- L1 (``POST /auth/api-key``, ``GET /auth/derive-api-key``): the ``ClobAuth`` EIP-712 message (domain
  ``ClobAuthDomain`` v"1", chain 137) signed by ``POLY_ADDRESS``; the signer is recovered and compared.
  Credentials are a pure function of (address, nonce), so deriving twice gives the same key.
- L2 (every trading call): the five ``POLY_*`` headers; the HMAC-SHA256 (URL-safe base64 secret) over
  ``timestamp + METHOD + path + body`` (path without the query string) is recomputed and compared.
- Orders: the EIP-712 ``Order`` (domain "Polymarket CTF Exchange" v"2", or v"3" at ExchangeV3 for
  Protocol V2 position ids; chain 137) is rebuilt from the posted JSON and the signer recovered. A
  deposit-wallet order (signature type 3, maker = signer = the wallet) carries an ERC-7739 wrapped
  signature: the owner's 65-byte signature over ``TypedDataSign`` followed by the app domain separator,
  the order's contents hash and the type string; each part is checked, then the owner is recovered and
  must own the wallet. EOA orders (type 0) from a key that has a deposit wallet are refused with the
  exchange's deposit-wallet message (errata Part 4 §1.8).

Independent of the SDK on purpose: the typed data is built here from the wire JSON with ``eth_account``
(a dependency of the SDK), so a signing bug in the client cannot also hide in the checker.

Timestamps are Unix seconds of real time (the SDK signs with ``time.time()``), so they are compared
with the system clock, whatever clock the simulated market runs on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

__all__ = ["ApiCredentials", "AuthFailure", "PolyAuth"]

CHAIN_ID = 137
EXCHANGE_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE_V2 = "0xe2222d279d744050d28e00520010520000310F59"
EXCHANGE_V3 = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"
CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"
#: How far a signed timestamp may be from now (s).
MAX_SKEW_S = 300

ORDER_TYPE = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
    "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_ORDER_FIELDS = [
    {"name": "salt", "type": "uint256"},
    {"name": "maker", "type": "address"},
    {"name": "signer", "type": "address"},
    {"name": "tokenId", "type": "uint256"},
    {"name": "makerAmount", "type": "uint256"},
    {"name": "takerAmount", "type": "uint256"},
    {"name": "side", "type": "uint8"},
    {"name": "signatureType", "type": "uint8"},
    {"name": "timestamp", "type": "uint256"},
    {"name": "metadata", "type": "bytes32"},
    {"name": "builder", "type": "bytes32"},
]
_V2_RESERVED_BITS = ((1 << 64) - 1) << 40
EOA, POLY_1271 = 0, 3


class AuthFailure(Exception):
    """A request the exchange would refuse: ``status`` and Polymarket's ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class ApiCredentials:
    key: str
    secret: str
    passphrase: str
    address: str  # checksummed owner (EOA)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _unhex(value: str) -> bytes:
    return bytes.fromhex(value[2:] if value.lower().startswith("0x") else value)


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


class PolyAuth:
    def __init__(self, now_s: Callable[[], float] = time.time) -> None:
        self._now_s = now_s
        self.keys: dict[str, ApiCredentials] = {}
        #: Deposit wallet (lower-case) -> its owner's address (lower-case).
        self.wallets: dict[str, str] = {}

    def register_wallet(self, owner: str, wallet: str) -> None:
        """A deployed deposit wallet and the EOA that owns it."""
        self.wallets[wallet.lower()] = owner.lower()

    def wallet_deployed(self, address: str) -> bool:
        return address.lower() in self.wallets

    # -- L1 ---------------------------------------------------------------------------------------

    def l1(self, headers: Mapping[str, str]) -> ApiCredentials:
        """Check an L1 request; the credentials of its (address, nonce)."""
        address, signature = headers.get("POLY_ADDRESS", ""), headers.get("POLY_SIGNATURE", "")
        timestamp, nonce_text = headers.get("POLY_TIMESTAMP", ""), headers.get("POLY_NONCE", "0")
        if not (address and signature and timestamp.isdigit() and nonce_text.isdigit()):
            raise AuthFailure(401, "Unauthorized/Invalid api key")
        self._fresh(int(timestamp))
        typed: dict[str, Any] = {
            "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": CHAIN_ID},
            "types": {
                "EIP712Domain": _DOMAIN_FIELDS[:3],
                "ClobAuth": [
                    {"name": "address", "type": "address"},
                    {"name": "timestamp", "type": "string"},
                    {"name": "nonce", "type": "uint256"},
                    {"name": "message", "type": "string"},
                ],
            },
            "primaryType": "ClobAuth",
            "message": {
                "address": address,
                "timestamp": timestamp,
                "nonce": int(nonce_text),
                "message": CLOB_AUTH_MESSAGE,
            },
        }
        if not _same(self._recover(typed, _unhex(signature)), address):
            raise AuthFailure(401, "Invalid L1 Request headers")
        seed = hashlib.sha256(f"{address.lower()}:{nonce_text}".encode()).digest()
        creds = ApiCredentials(
            key=str(hashlib.sha256(b"key" + seed).hexdigest()[:32]),
            secret=_b64(hashlib.sha256(b"secret" + seed).digest()),
            passphrase=hashlib.sha256(b"pass" + seed).hexdigest()[:24],
            address=address,
        )
        self.keys[creds.key] = creds
        return creds

    # -- L2 ---------------------------------------------------------------------------------------

    def l2(self, headers: Mapping[str, str], method: str, path: str, body: str) -> ApiCredentials:
        """Check an L2 request; the credentials it was made with."""
        key = headers.get("POLY_API_KEY", "")
        creds = self.keys.get(key)
        if creds is None or headers.get("POLY_PASSPHRASE") != creds.passphrase:
            raise AuthFailure(401, "Unauthorized/Invalid api key")
        if not _same(headers.get("POLY_ADDRESS", ""), creds.address):
            raise AuthFailure(401, "Unauthorized/Invalid api key")
        timestamp = headers.get("POLY_TIMESTAMP", "")
        if not timestamp.isdigit():
            raise AuthFailure(401, "Unauthorized/Invalid api key")
        self._fresh(int(timestamp))
        message = f"{timestamp}{method}{path}{body}".encode()
        secret = base64.urlsafe_b64decode(creds.secret + "=" * (-len(creds.secret) % 4))
        expected = _b64(hmac.new(secret, message, hashlib.sha256).digest())
        if not hmac.compare_digest(expected, headers.get("POLY_SIGNATURE", "")):
            raise AuthFailure(401, "Unauthorized/Invalid api key")
        return creds

    def _fresh(self, timestamp: int) -> None:
        if abs(self._now_s() - timestamp) > MAX_SKEW_S:
            raise AuthFailure(401, "Unauthorized/Invalid api key: timestamp too far from now")

    # -- orders -----------------------------------------------------------------------------------

    def check_order(self, order: Mapping[str, Any], creds: ApiCredentials, *, neg_risk: bool) -> None:
        """Refuse an order whose signature the exchange would refuse (``AuthFailure(400, ...)``)."""
        try:
            signature_type = int(order["signatureType"])
            maker, signer = str(order["maker"]), str(order["signer"])
            signature = _unhex(str(order["signature"]))
            message = _order_message(order)
        except (KeyError, ValueError, TypeError) as exc:
            raise AuthFailure(400, f"Invalid order payload: {exc}") from None
        domain = _domain(str(order["tokenId"]), neg_risk=neg_risk)
        if signature_type == EOA:
            if self._owned_wallet(creds.address) is not None:
                raise AuthFailure(400, "maker address not allowed, please use the deposit wallet flow")
            if not (_same(maker, signer) and _same(signer, creds.address)):
                raise AuthFailure(400, "the order signer address has to be the address of the API KEY")
            typed = {
                "types": {"EIP712Domain": _DOMAIN_FIELDS, "Order": _ORDER_FIELDS},
                "primaryType": "Order",
                "domain": domain,
                "message": message,
            }
            if len(signature) != 65 or not _same(self._recover(typed, signature), signer):
                raise AuthFailure(400, "invalid signature")
            return
        if signature_type != POLY_1271:
            raise AuthFailure(400, f"unsupported signature type {signature_type}")
        owner = self.wallets.get(maker.lower())
        if owner is None or not _same(maker, signer):
            raise AuthFailure(400, "the order maker must be a deployed deposit wallet and the order signer")
        if not _same(owner, creds.address):
            raise AuthFailure(400, "the order signer address has to be the address of the API KEY")
        self._check_erc7739(signature, domain, message, owner=owner, wallet=maker)

    def _owned_wallet(self, owner: str) -> str | None:
        return next((w for w, o in self.wallets.items() if _same(o, owner)), None)

    def _check_erc7739(
        self, signature: bytes, domain: dict[str, Any], message: dict[str, Any], *, owner: str, wallet: str
    ) -> None:
        """sig(65) | app domain separator(32) | contents hash(32) | contents type | len(type) (2 bytes)."""
        type_bytes = ORDER_TYPE.encode()
        if len(signature) != 65 + 64 + len(type_bytes) + 2:
            raise AuthFailure(400, "invalid signature")
        inner, trailer = signature[:65], signature[65:]
        separator, contents, rest = trailer[:32], trailer[32:64], trailer[64:]
        if rest[:-2] != type_bytes or int.from_bytes(rest[-2:], "big") != len(type_bytes):
            raise AuthFailure(400, "invalid signature")
        if separator != _domain_separator(domain) or contents != _contents_hash(message):
            raise AuthFailure(400, "invalid signature")
        typed = {
            "types": {
                "EIP712Domain": _DOMAIN_FIELDS,
                "Order": _ORDER_FIELDS,
                "TypedDataSign": [
                    {"name": "contents", "type": "Order"},
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                    {"name": "salt", "type": "bytes32"},
                ],
            },
            "primaryType": "TypedDataSign",
            "domain": domain,
            "message": {
                "contents": message,
                "name": "DepositWallet",
                "version": "1",
                "chainId": CHAIN_ID,
                "verifyingContract": wallet,
                "salt": "0x" + "00" * 32,
            },
        }
        if not _same(self._recover(typed, inner), owner):
            raise AuthFailure(400, "invalid signature")

    @staticmethod
    def _recover(typed: dict[str, Any], signature: bytes) -> str:
        try:
            return str(Account.recover_message(encode_typed_data(full_message=typed), signature=signature))
        except Exception:  # a malformed signature: eth_account raises several unrelated types
            return ""


def is_v2_position(token_id: str) -> bool:
    """Protocol V2 position ids leave 64 reserved bits (40..103) clear (errata Part 4 §2.1)."""
    try:
        return (int(token_id) & _V2_RESERVED_BITS) == 0
    except ValueError:
        return False


def _domain(token_id: str, *, neg_risk: bool) -> dict[str, Any]:
    v2 = is_v2_position(token_id)
    contract = EXCHANGE_V3 if v2 else (NEG_RISK_EXCHANGE_V2 if neg_risk else EXCHANGE_V2)
    return {
        "name": "Polymarket CTF Exchange",
        "version": "3" if v2 else "2",
        "chainId": CHAIN_ID,
        "verifyingContract": contract,
    }


def _order_message(order: Mapping[str, Any]) -> dict[str, Any]:
    side = str(order["side"])
    if side not in ("BUY", "SELL"):
        raise ValueError(f"side {side!r}")
    return {
        "salt": int(order["salt"]),
        "maker": str(order["maker"]),
        "signer": str(order["signer"]),
        "tokenId": int(order["tokenId"]),
        "makerAmount": int(order["makerAmount"]),
        "takerAmount": int(order["takerAmount"]),
        "side": 0 if side == "BUY" else 1,
        "signatureType": int(order["signatureType"]),
        "timestamp": int(order["timestamp"]),
        "metadata": str(order["metadata"]),
        "builder": str(order["builder"]),
    }


def _domain_separator(domain: Mapping[str, Any]) -> bytes:
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(_DOMAIN_TYPE.encode()),
                keccak(str(domain["name"]).encode()),
                keccak(str(domain["version"]).encode()),
                int(domain["chainId"]),
                str(domain["verifyingContract"]),
            ],
        )
    )


def _contents_hash(message: Mapping[str, Any]) -> bytes:
    return keccak(
        abi_encode(
            ["bytes32", "uint256", "address", "address", "uint256", "uint256", "uint256", "uint8", "uint8",
             "uint256", "bytes32", "bytes32"],
            [
                keccak(ORDER_TYPE.encode()),
                message["salt"],
                message["maker"],
                message["signer"],
                message["tokenId"],
                message["makerAmount"],
                message["takerAmount"],
                message["side"],
                message["signatureType"],
                message["timestamp"],
                _unhex(message["metadata"]),
                _unhex(message["builder"]),
            ],
        )
    )  # fmt: skip
