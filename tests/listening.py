"""Which TCP sockets a set of processes listens on, read from /proc (what `ss -ltnp` shows):
each process's socket inodes from /proc/<pid>/fd, their addresses from /proc/net/tcp and tcp6."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

LISTEN = "0A"  # the kernel's TCP_LISTEN state, as /proc/net/tcp writes it


@dataclass(frozen=True)
class Listening:
    pid: int
    address: str  # as `ss` prints it: 127.0.0.1, 0.0.0.0, ::, ::ffff:127.0.0.1
    port: int

    @property
    def loopback_only(self) -> bool:
        ip = ipaddress.ip_address(self.address)
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        return (mapped or ip).is_loopback


def _address(hex_ip: str) -> str:
    raw = bytes.fromhex(hex_ip)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))  # little-endian, one 32-bit word
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))  # four little-endian words
    return str(ipaddress.IPv6Address(words))


def _listening_inodes() -> dict[int, tuple[str, int]]:
    found: dict[int, tuple[str, int]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != LISTEN:
                continue
            ip, port = fields[1].split(":")
            found[int(fields[9])] = (_address(ip), int(port, 16))
    return found


def descendants(pid: int) -> set[int]:
    """`pid` and every process under it (children of children too), from /proc/<pid>/stat."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces: the fields after it are fixed
        parents[int(stat.parent.name)] = int(text.rsplit(")", 1)[1].split()[1])
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return tree


def listening_sockets(pids: set[int]) -> list[Listening]:
    """Every TCP socket in LISTEN state that one of `pids` holds open."""
    inodes = _listening_inodes()
    out = []
    for pid in sorted(pids):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:  # closed meanwhile
                continue
            if link.startswith("socket:["):
                inode = int(link[8:-1])
                if inode in inodes:
                    address, port = inodes[inode]
                    out.append(Listening(pid, address, port))
    return out
