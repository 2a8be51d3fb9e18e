"""Archives and compressed streams: every member handed back, within the limits.

ZIP, tar (plain; compressed tars are decompressed first and then read as tar), gzip with all its
members, bzip2 and xz (all streams), 7z (py7zr) and TNEF `winmail.dat` (tnefparse). Every
decompression is bounded by the ratio and the remaining byte budget, so bombs stop early; an
encrypted member, a RAR archive or a member count beyond the limit is `Unscannable`.
"""

from __future__ import annotations

import bz2
import io
import logging
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from guard.inspection.extract_limits import Limits, Unscannable, expansion_cap

ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
SEVENZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
RAR_MAGIC = b"Rar!\x1a\x07"
TNEF_MAGIC = b"\x78\x9f\x3e\x22"


@dataclass(frozen=True, slots=True)
class Member:
    """One file inside a container: its name (text the recipient sees too) and its bytes."""

    name: str
    data: bytes


Room = Callable[[], int]
"""Bytes left in the message's decompression budget."""


def is_tar(data: bytes) -> bool:
    return len(data) >= 262 and data[257:262] == b"ustar"


# -- single compressed streams ------------------------------------------------------------------
def gunzip_all(data: bytes, budget: int, limits: Limits) -> bytes:
    """Every member of a gzip file (`cat a.gz b.gz` is one valid .gz), bounded."""
    cap = expansion_cap(len(data), budget, limits)
    out = bytearray()
    rest = data
    members = 0
    while rest[:2] == GZIP_MAGIC:
        members += 1
        if members > limits.max_archive_members:
            raise Unscannable(f"gzip with more than {limits.max_archive_members} members")
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = d.decompress(rest, cap - len(out) + 1)
        except zlib.error:
            if not out:
                raise Unscannable("broken gzip stream") from None
            break
        out += chunk
        if len(out) > cap or d.unconsumed_tail:
            raise Unscannable("gzip expands beyond the size/ratio limit (decompression bomb)")
        if not d.eof:
            break  # truncated: what was readable is read
        rest = d.unused_data.lstrip(b"\x00")
    return bytes(out)


def _decompress_streams(
    data: bytes, make: Callable[[], object], name: str, budget: int, limits: Limits
) -> bytes:
    cap = expansion_cap(len(data), budget, limits)
    out = bytearray()
    rest = data
    streams = 0
    while rest:
        streams += 1
        if streams > limits.max_archive_members:
            raise Unscannable(f"{name} with more than {limits.max_archive_members} streams")
        d = make()
        try:
            chunk = d.decompress(rest, cap - len(out) + 1)  # type: ignore[attr-defined]
        except (OSError, EOFError, lzma.LZMAError, ValueError):
            if not out:
                raise Unscannable(f"broken {name} stream") from None
            break
        out += chunk
        if len(out) > cap:
            raise Unscannable(f"{name} expands beyond the size/ratio limit (decompression bomb)")
        if not d.eof:  # type: ignore[attr-defined]
            break  # truncated
        rest = d.unused_data.lstrip(b"\x00")  # type: ignore[attr-defined]
    return bytes(out)


def bunzip_all(data: bytes, budget: int, limits: Limits) -> bytes:
    return _decompress_streams(data, bz2.BZ2Decompressor, "bzip2", budget, limits)


def unxz_all(data: bytes, budget: int, limits: Limits) -> bytes:
    return _decompress_streams(data, lambda: lzma.LZMADecompressor(lzma.FORMAT_AUTO), "xz", budget, limits)


# -- archives -----------------------------------------------------------------------------------
def zip_members(zf: zipfile.ZipFile, room: Room, limits: Limits) -> Iterator[Member]:
    infos = zf.infolist()
    if len(infos) > limits.max_archive_members:
        raise Unscannable(f"archive with more than {limits.max_archive_members} members")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise Unscannable("encrypted archive member")
        if info.file_size > max(info.compress_size, 1) * limits.max_ratio and info.file_size > 1_000_000:
            raise Unscannable("archive member expands beyond the ratio limit (zip bomb)")
        total += info.file_size
    if total > room():
        raise Unscannable("archive expands beyond the inspection budget (zip bomb)")
    for info in infos:
        if info.is_dir():
            continue
        yield Member(info.filename, read_zip_member(zf, info, room()))


def read_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """Read with a hard cap: the declared size in the header may lie."""
    cap = min(budget, info.file_size)
    with zf.open(info) as fh:
        data = fh.read(cap + 1)
    if len(data) > cap:
        raise Unscannable("archive member larger than declared or than the budget (zip bomb)")
    return data


def tar_members(data: bytes, room: Room, limits: Limits) -> Iterator[Member]:
    """An uncompressed tar (compressed ones were decompressed, bounded, before)."""
    try:
        tf = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115 - closed by `with` below
    except tarfile.TarError:
        raise Unscannable("broken tar archive") from None
    with tf:
        count = 0
        for info in tf:
            count += 1
            if count > limits.max_archive_members:
                raise Unscannable(f"archive with more than {limits.max_archive_members} members")
            if not info.isfile():
                continue
            if info.size > room() or info.size > len(data) * limits.max_ratio:
                raise Unscannable("tar member expands beyond the inspection budget (sparse bomb)")
            fh = tf.extractfile(info)
            if fh is None:
                continue
            yield Member(info.name, fh.read(info.size))


class _CappedWriter:
    """A py7zr output that refuses to grow beyond its cap (the declared size may lie)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.buf = io.BytesIO()

    def write(self, s: bytes | bytearray) -> int:
        if self.buf.tell() + len(s) > self.cap:
            raise Unscannable("7z member expands beyond the inspection budget (decompression bomb)")
        return self.buf.write(s)

    def read(self, size: int | None = None) -> bytes:
        return self.buf.read() if size is None else self.buf.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.buf.seek(offset, whence)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass  # py7zr closes each output when its member is done; the bytes are read afterwards

    def size(self) -> int:
        return self.buf.getbuffer().nbytes


def sevenzip_members(data: bytes, room: Room, limits: Limits) -> Iterator[Member]:
    import py7zr
    from py7zr.io import Py7zIO, WriterFactory

    try:
        archive = py7zr.SevenZipFile(io.BytesIO(data), mode="r")
    except py7zr.exceptions.PasswordRequired:
        raise Unscannable("encrypted 7z archive") from None
    except (py7zr.exceptions.Bad7zFile, py7zr.exceptions.ArchiveError):
        raise Unscannable("broken 7z archive") from None
    with archive:
        if archive.needs_password():
            raise Unscannable("encrypted 7z archive")
        infos = [i for i in archive.list() if not i.is_directory]
        if len(infos) > limits.max_archive_members:
            raise Unscannable(f"archive with more than {limits.max_archive_members} members")
        declared = sum(int(i.uncompressed or 0) for i in infos)
        cap = min(room(), len(data) * limits.max_ratio + 1024 * 1024)
        if declared > cap:
            raise Unscannable("7z archive expands beyond the size/ratio limit (decompression bomb)")
        writers: dict[str, _CappedWriter] = {}

        class _Factory(WriterFactory):
            def create(self, filename: str) -> Py7zIO:
                writer = _CappedWriter(cap - sum(w.size() for w in writers.values()))
                writers[filename] = writer
                return writer  # type: ignore[return-value]

        archive.extractall(factory=_Factory())
    for name, writer in writers.items():
        yield Member(name, writer.buf.getvalue())


MAX_TNEF_ATTRIBUTES = 5_000


def _tnef_attribute_count(data: bytes) -> int:
    """tnefparse copies the rest of the file for every attribute (quadratic): count them first,
    in one linear walk over the length fields, and refuse files with implausibly many."""
    offset, count = 6, 0
    while offset + 12 < len(data):
        count += 1
        if count > MAX_TNEF_ATTRIBUTES:
            raise Unscannable(f"TNEF with more than {MAX_TNEF_ATTRIBUTES} attributes")
        offset += int.from_bytes(data[offset + 5 : offset + 9], "little") + 11
    return count


def tnef_contents(data: bytes) -> tuple[list[tuple[str, str]], list[Member]]:
    """A TNEF `winmail.dat`: (label, text) pairs for subject and bodies, and the attachments."""
    from tnefparse.tnef import TNEF

    logging.getLogger("tnefparse").setLevel(logging.CRITICAL)  # it warns per bad checksum
    _tnef_attribute_count(data)
    tnef = TNEF(data, do_checksum=True)
    if any(not obj.good_checksum for obj in tnef.objects):
        raise Unscannable("broken TNEF (bad attribute checksums)")
    texts: list[tuple[str, str]] = []
    for prop in tnef.msgprops:
        if isinstance(prop.data, str) and prop.data.strip():
            texts.append(("property", prop.data))
    for label, body in (("body", tnef.body), ("html body", tnef.htmlbody)):
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        if body:
            texts.append((label, str(body)))
    members: list[Member] = []
    if tnef._rtfbody:  # read through its public property, which decompresses it
        rtf = tnef.rtfbody
        if isinstance(rtf, bytes):
            members.append(Member("body.rtf", rtf))
    for att in tnef.attachments:
        name = att.long_filename() or att.name or "attachment"
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        payload = att.data if isinstance(att.data, bytes) else b""
        members.append(Member(str(name), payload))
    return texts, members


__all__ = [
    "Member",
    "bunzip_all",
    "gunzip_all",
    "is_tar",
    "sevenzip_members",
    "tar_members",
    "tnef_contents",
    "unxz_all",
    "zip_members",
]
