"""Document: what a connector's documents() yields, and its checksum.

A checksum is what the kit compares with the one ccfd stored: sha256 of the
content (hex, so a plain file's checksum is what sha256sum prints), of the
content and the document's other fields when it has some (so a changed
title is a change), or the author's own string. Content is hashed as it
streams when the document names a file, never read whole for that.
"""

import hashlib
import json

CHUNK = 1 << 20
ID_MAX = 512


def valid_checksum(value):
    """The contract's checksum: 32..512 printable ASCII characters."""
    return (isinstance(value, str) and 32 <= len(value) <= 512
            and all(0x21 <= ord(ch) <= 0x7E for ch in value))


def id_problem(doc_id):
    """Why ccfd would refuse this document_id, or None."""
    if not isinstance(doc_id, str):
        return f"document id must be a str, not {type(doc_id).__name__}"
    if not 1 <= len(doc_id) <= ID_MAX:
        return f"document id must be 1..{ID_MAX} characters, not {len(doc_id)}"
    for ch in doc_id:
        o = ord(ch)
        if o < 0x20 or 0x7F <= o <= 0x9F:
            return f"document id {doc_id[:60]!r} holds the control character U+{o:04X}"
        if 0xD800 <= o <= 0xDFFF:
            return f"document id {doc_id[:60]!r} holds a lone surrogate"
    return None


class Document:
    """Document(id, content=bytes|str) or Document(id, checksum=str), or
    Document(id, path=file) whose content is read (and hashed) from the file.
    Other keywords are the document's fields for the target (title, url...):
    they are kept in .fields and are part of the checksum unless the author
    gave one."""

    __slots__ = ("id", "content", "path", "fields", "_checksum")

    def __init__(self, id, content=None, checksum=None, *, path=None, **fields):  # noqa: A002
        if content is None and checksum is None and path is None:
            raise ValueError(f"document {id!r}: give content, checksum or path")
        if content is not None and not isinstance(content, (bytes, bytearray, str)):
            raise TypeError(f"document {id!r}: content must be bytes or str")
        self.id = id
        self.content = content
        self.path = path
        self.fields = fields
        self._checksum = checksum

    def read(self):
        """The content as bytes (read from path if that is what was given)."""
        if self.content is not None:
            return self.content.encode("utf-8") if isinstance(self.content, str) else bytes(self.content)
        if self.path is not None:
            with open(self.path, "rb") as f:
                return f.read()
        return None

    @property
    def checksum(self):
        """The checksum ccfd stores for this document (computed once)."""
        if self._checksum is None or not valid_checksum(self._checksum):
            self._checksum = self._compute()
        return self._checksum

    def _compute(self):
        if self._checksum is not None:  # the author's, but not a valid one: hash it
            return hashlib.sha256(str(self._checksum).encode("utf-8")).hexdigest()
        h = hashlib.sha256()
        if self.content is not None:
            h.update(self.read())
        else:
            with open(self.path, "rb") as f:
                for chunk in iter(lambda: f.read(CHUNK), b""):
                    h.update(chunk)
        if not self.fields:
            return h.hexdigest()
        fields = json.dumps(self.fields, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256((h.hexdigest() + "\n" + fields).encode("utf-8")).hexdigest()

    def __repr__(self):
        return f"Document({self.id!r})"
