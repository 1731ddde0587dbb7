"""Key files: creation with safe permissions, refusal of unsafe or wrong files, and the `kxbtc keys` CLI."""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kxbtc.cli import EXIT_OK, EXIT_USAGE, cli
from kxbtc.errors import KeyFileError
from kxbtc.kalshi.auth import Signer, load_public_key, verify_signature
from kxbtc.keys import generate_keypair, generate_rsa_keypair, load_key_id_file, load_private_key_file

PATH = "/trade-api/v2/portfolio/balance"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    # Shows the private key is 0600 from birth, not merely thanks to the usual 022 umask.
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("permissive_umask")
@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
def test_generated_keypair_signs_and_verifies(tmp_path: Path, key_type: str) -> None:
    out = tmp_path / "keys"
    key_id, private_path, public_path = generate_keypair(out, key_type)  # type: ignore[arg-type]
    assert uuid.UUID(key_id).version == 4
    assert load_key_id_file(out / "key_id") == key_id
    assert _mode(private_path) == 0o600
    assert _mode(out) == 0o700
    pem = load_private_key_file(private_path)
    signer = Signer(key_id, pem)
    assert signer.key_type == key_type
    assert signer.public_key_pem() == public_path.read_bytes()
    headers = signer.headers("GET", PATH)
    public = load_public_key(public_path.read_bytes())
    assert verify_signature(
        public, headers["KALSHI-ACCESS-TIMESTAMP"], "GET", PATH, headers["KALSHI-ACCESS-SIGNATURE"]
    )


def test_rsa_keypair_size_and_fresh_ids(tmp_path: Path) -> None:
    id_a, private_a, _ = generate_rsa_keypair(tmp_path / "a")
    id_b, _, _ = generate_rsa_keypair(tmp_path / "b", bits=3072)
    assert id_a != id_b
    key = serialization.load_pem_private_key(private_a.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    with pytest.raises(ValueError, match="2048, 3072 or 4096"):
        generate_rsa_keypair(tmp_path / "c", bits=1024)


def test_existing_keys_are_never_overwritten(tmp_path: Path) -> None:
    _, private_path, _ = generate_keypair(tmp_path, "ed25519")
    before = private_path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists; refusing to overwrite"):
        generate_keypair(tmp_path, "ed25519")
    assert private_path.read_bytes() == before


# --- loading: every refusal names the file and the problem, never the content ------------------------------


def _write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(KeyFileError, match=f"key file {missing} does not exist"):
        load_private_key_file(missing)


def test_group_or_world_readable_key_is_refused_with_the_fix(tmp_path: Path) -> None:
    _, private_path, _ = generate_keypair(tmp_path, "ed25519")
    for mode in (0o640, 0o604, 0o644, 0o660):
        private_path.chmod(mode)
        with pytest.raises(KeyFileError) as info:
            load_private_key_file(private_path)
        assert f"chmod 600 {private_path}" in str(info.value)
        assert f"{mode:04o}" in str(info.value)
    private_path.chmod(0o400)  # stricter than 0600 is fine
    assert load_private_key_file(private_path)


def test_directory_and_fifo_are_not_key_files(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="is a directory"):
        load_private_key_file(tmp_path)
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo, 0o600)
    # Must not block waiting for a writer.
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_private_key_file(fifo)


def test_public_key_garbage_and_empty_files_are_refused_without_echo(tmp_path: Path) -> None:
    _, _, public_path = generate_keypair(tmp_path / "k", "rsa")
    public = _write(tmp_path / "pub_as_private.pem", public_path.read_bytes())
    with pytest.raises(KeyFileError, match="is a public key") as info:
        load_private_key_file(public)
    assert "MII" not in str(info.value)  # no base64 from the file

    garbage = _write(tmp_path / "garbage.pem", b"hunter2-SECRET-token\n" * 5)
    with pytest.raises(KeyFileError, match=f"key file {garbage}: not a PEM private key") as info:
        load_private_key_file(garbage)
    assert "hunter2" not in str(info.value) and "SECRET" not in str(info.value)

    empty = _write(tmp_path / "empty.pem", b"")
    with pytest.raises(KeyFileError, match="not a PEM private key"):
        load_private_key_file(empty)

    huge = _write(tmp_path / "huge.pem", b"x" * 100_000)
    with pytest.raises(KeyFileError, match="too large"):
        load_private_key_file(huge)


def _unreadable_file_for_root() -> Path | None:
    # Root ignores permission bits, but the kernel refuses to read write-only sysfs attributes even for root.
    # Only opened for reading: nothing is ever written to them.
    for candidate in ("/sys/bus/pci/rescan", "/sys/class/zram-control/hot_remove", "/sys/kernel/mm/ksm/run"):
        path = Path(candidate)
        try:
            st = path.stat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and not st.st_mode & 0o477:
            try:
                path.open("rb").close()
            except PermissionError:
                return path
    return None


def test_unreadable_file_says_permission_denied(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        key = tmp_path / "key.pem"
        generate_keypair(tmp_path, "ed25519")
        (tmp_path / "private_key.pem").rename(key)
        key.chmod(0o000)
    else:
        found = _unreadable_file_for_root()
        if found is None:
            pytest.skip("running as root, which ignores permission bits, and no write-only sysfs file exists")
        key = found
    with pytest.raises(KeyFileError, match=f"cannot read key file {key}: permission denied"):
        load_private_key_file(key)


# --- CLI ----------------------------------------------------------------------------------------------------


def test_cli_keys_new_and_check(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "creds"
    result = runner.invoke(cli, ["keys", "new", "--out", str(out)])
    assert result.exit_code == EXIT_OK, result.output
    key_id = load_key_id_file(out / "key_id")
    assert f"key id:      {key_id}" in result.output
    assert str(out / "private_key.pem") in result.output

    again = runner.invoke(cli, ["keys", "new", "--out", str(out)])
    assert again.exit_code == EXIT_USAGE
    assert "already exists" in again.output

    checked = runner.invoke(cli, ["keys", "check", str(out / "private_key.pem")])
    assert checked.exit_code == EXIT_OK and "RSA 2048 bits" in checked.output

    (out / "private_key.pem").chmod(0o644)
    refused = runner.invoke(cli, ["keys", "check", str(out / "private_key.pem")])
    assert refused.exit_code == EXIT_USAGE
    assert f"chmod 600 {out / 'private_key.pem'}" in refused.output


def test_cli_keys_new_ed25519_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["keys", "new", "--out", str(tmp_path), "--type", "ed25519", "--json"])
    assert result.exit_code == EXIT_OK, result.output
    info = json.loads(result.output)
    assert info["key_type"] == "ed25519"
    assert info["key_id"] == load_key_id_file(tmp_path / "key_id")
    assert Signer(info["key_id"], load_private_key_file(info["private_key"])).key_type == "ed25519"
