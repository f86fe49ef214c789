"""Bitcoin address checksum validation (Base58Check legacy/P2SH and bech32/bech32m segwit)."""

from __future__ import annotations

import hashlib

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {c: i for i, c in enumerate(_BECH32_CHARSET)}
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3


def is_base58check_address(addr: str) -> bool:
    """True for a mainnet P2PKH (``1...``) or P2SH (``3...``) address with a valid checksum."""
    if not 26 <= len(addr) <= 35 or addr[0] not in "13":
        return False
    num = 0
    for ch in addr:
        v = _B58_INDEX.get(ch)
        if v is None:
            return False
        num = num * 58 + v
    try:
        raw = num.to_bytes(25, "big")
    except OverflowError:
        return False
    # leading '1' characters encode leading zero bytes
    n_pad = len(addr) - len(addr.lstrip("1"))
    if raw[:n_pad] != b"\x00" * n_pad:
        return False
    version, payload, checksum = raw[:1], raw[1:21], raw[21:]
    if version not in (b"\x00", b"\x05"):
        return False
    digest = hashlib.sha256(hashlib.sha256(version + payload).digest()).digest()
    return digest[:4] == checksum


def _polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((top >> i) & 1) else 0
    return chk


def _convertbits(data: list[int], frombits: int, tobits: int) -> list[int] | None:
    acc = 0
    bits = 0
    ret = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if bits >= frombits or ((acc << (tobits - bits)) & maxv):
        return None
    return ret


def is_bech32_address(addr: str) -> bool:
    """True for a mainnet segwit address (``bc1...``), bech32 for v0 and bech32m for v1+."""
    if addr.lower() != addr and addr.upper() != addr:
        return False
    addr = addr.lower()
    if not addr.startswith("bc1") or not 14 <= len(addr) <= 90:
        return False
    try:
        data = [_BECH32_INDEX[c] for c in addr[3:]]
    except KeyError:
        return False
    hrp_exp = [ord(x) >> 5 for x in "bc"] + [0] + [ord(x) & 31 for x in "bc"]
    const = _polymod(hrp_exp + data)
    if const not in (_BECH32_CONST, _BECH32M_CONST):
        return False
    data = data[:-6]
    if not data:
        return False
    witver = data[0]
    if witver > 16:
        return False
    prog = _convertbits(data[1:], 5, 8)
    if prog is None or not 2 <= len(prog) <= 40:
        return False
    if witver == 0:
        return const == _BECH32_CONST and len(prog) in (20, 32)
    return const == _BECH32M_CONST


def is_btc_address(addr: str) -> bool:
    if addr[:3].lower() == "bc1":
        return is_bech32_address(addr)
    return is_base58check_address(addr)
