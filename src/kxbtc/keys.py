"""API key files: safe loading, key-pair creation, and the ``kxbtc keys`` commands.

A private key file must be a regular file readable by its owner only (mode 0600 or stricter): a key that
other local users can read is as good as published. Errors name the file and the problem, never its
content.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path
from typing import Literal, NoReturn

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from kxbtc.errors import KeyFileError
from kxbtc.exit_codes import EXIT_USAGE
from kxbtc.kalshi.auth import load_private_key, public_key_pem

PRIVATE_KEY_FILE = "private_key.pem"
PUBLIC_KEY_FILE = "public_key.pem"
KEY_ID_FILE = "key_id"
# Far above any RSA-4096 PEM (~3.3 kB); stops a wrong path from reading a huge file into memory.
MAX_KEY_FILE_BYTES = 64 * 1024

GeneratedKeyType = Literal["rsa", "ed25519"]


def load_private_key_file(path: str | os.PathLike[str]) -> bytes:
    """The PEM bytes of a private key file, after checking it is safe and really a private key."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise KeyFileError(f"key file {p} does not exist") from None
    except PermissionError:
        raise KeyFileError(f"cannot read key file {p}: permission denied") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {p}: {exc.strerror}") from None
    # Checked before opening: opening a FIFO would block, a directory cannot be read.
    if stat.S_ISDIR(st.st_mode):
        raise KeyFileError(f"key file {p} is a directory, not a key file")
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"key file {p} is not a regular file")
    if st.st_mode & 0o077:
        raise KeyFileError(
            f"key file {p} is readable by group/others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"restrict it with: chmod 600 {p}"
        )
    if st.st_size > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"key file {p} is {st.st_size} bytes, too large to be a private key")
    try:
        pem = p.read_bytes()
    except PermissionError:
        raise KeyFileError(f"cannot read key file {p}: permission denied") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {p}: {exc.strerror}") from None
    try:
        load_private_key(pem)
    except KeyFileError as exc:
        raise KeyFileError(f"key file {p}: {exc}") from None
    return pem


def load_key_id_file(path: str | os.PathLike[str]) -> str:
    """The key id stored in a ``key_id`` file (first line, whitespace stripped)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read key id file {p}: {exc}") from None
    key_id = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not key_id:
        raise KeyFileError(f"key id file {p} is empty")
    return key_id


def _write_new(path: Path, data: bytes, mode: int) -> None:
    # O_EXCL: never overwrite a key; the mode is set at creation, so the key is never briefly world-readable.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; refusing to overwrite it") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _private_pem(key_type: GeneratedKeyType, bits: int) -> bytes:
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if key_type == "rsa":
        if bits not in (2048, 3072, 4096):
            raise ValueError("RSA key size must be 2048, 3072 or 4096 bits")
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    else:
        key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def generate_keypair(
    out_dir: str | os.PathLike[str], key_type: GeneratedKeyType = "rsa", *, bits: int = 2048
) -> tuple[str, Path, Path]:
    """Write a new key pair into ``out_dir``: (key_id, private key path, public key path).

    Files: ``private_key.pem`` (PKCS#8, mode 0600), ``public_key.pem``, ``key_id`` (a fresh UUID4). The
    key id is for the simulator's ``--trust``; on the real exchange, register the public key and use the id
    Kalshi returns. Refuses to overwrite any existing file.
    """
    out = Path(out_dir)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_path, public_path, key_id_path = out / PRIVATE_KEY_FILE, out / PUBLIC_KEY_FILE, out / KEY_ID_FILE
    for existing in (private_path, public_path, key_id_path):
        if existing.exists():
            raise KeyFileError(f"{existing} already exists; refusing to overwrite it")
    private_pem = _private_pem(key_type, bits)
    key_id = str(uuid.uuid4())
    _write_new(private_path, private_pem, 0o600)
    _write_new(public_path, public_key_pem(private_pem), 0o644)
    _write_new(key_id_path, (key_id + "\n").encode(), 0o644)
    return key_id, private_path, public_path


def generate_rsa_keypair(out_dir: str | os.PathLike[str], bits: int = 2048) -> tuple[str, Path, Path]:
    return generate_keypair(out_dir, "rsa", bits=bits)


def _fail(message: str) -> NoReturn:

    click.echo(f"error: {message}", err=True)
    raise SystemExit(EXIT_USAGE)


@click.group("keys")
def keys() -> None:
    """Create and check API key files."""


@keys.command("new")
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Directory."
)
@click.option("--type", "key_type", type=click.Choice(["rsa", "ed25519"]), default="rsa", show_default=True)
@click.option("--bits", type=click.Choice(["2048", "3072", "4096"]), default="2048", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of text.")
def keys_new(out_dir: Path, key_type: GeneratedKeyType, bits: str, as_json: bool) -> None:
    """Write a new key pair and key id into DIR (private key mode 0600)."""
    try:
        key_id, private_path, public_path = generate_keypair(out_dir, key_type, bits=int(bits))
    except (KeyFileError, OSError) as exc:
        _fail(str(exc))
    if as_json:
        paths = {"private_key": str(private_path), "public_key": str(public_path)}
        click.echo(json.dumps({"key_id": key_id, "key_type": key_type, **paths}))
        return
    click.echo(f"key id:      {key_id}")
    click.echo(f"private key: {private_path}")
    click.echo(f"public key:  {public_path}")


@keys.command("check")
@click.argument("path", type=click.Path(path_type=Path))
def keys_check(path: Path) -> None:
    """Check that PATH is a private key file safe to use (owner-only, RSA or Ed25519)."""
    try:
        pem = load_private_key_file(path)
    except KeyFileError as exc:
        _fail(str(exc))
    key = load_private_key(pem)
    detail = f"RSA {key.key_size} bits" if isinstance(key, rsa.RSAPrivateKey) else "Ed25519"
    click.echo(f"ok: {path} ({detail}, owner-only)")
