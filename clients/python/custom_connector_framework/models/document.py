"""Document, DocumentFile and DocumentMetadata under the original kit's names
and signatures. The checksum covers the id, the metadata (timestamps left
out, so that a re-crawl alone is no change) and the file's bytes, hashed as
they stream."""

import hashlib
import json
import mimetypes
from datetime import datetime, timezone
from pathlib import Path

from custom_connector_framework.models._base import Field, Model
from custom_connector_framework.models.exceptions import UnsupportedDocumentError
from custom_connector_framework.types import ContentType, DocumentTypeMapper

TEXT_TYPES = {ContentType.HTML, ContentType.XML, ContentType.XSLT, ContentType.MD, ContentType.JSON,
              ContentType.CSV, ContentType.PLAIN_TEXT}
# Leading bytes of the binary types (the original asks the filetype package).
MAGIC = ((b"%PDF", "application/pdf"), (b"{\\rtf", "application/rtf"),
         (b"\xd0\xcf\x11\xe0", "application/msword"))


def _now():
    return datetime.now(timezone.utc).isoformat()


class DocumentMetadata(Model):
    EXTRA = "forbid"
    FIELDS = {"title": Field(), "source_uri": Field(None), "last_updated_at": Field(default_factory=_now),
              "created_at": Field(default_factory=_now), "attributes": Field(default_factory=dict),
              "access_control_list": Field(default_factory=list)}


class DocumentFile:
    """A file on the local filesystem (it must exist)."""

    def __init__(self, file_path):
        self.file_path = Path(file_path)
        if not self.file_path.exists():
            raise FileNotFoundError(f"File not found: {self.file_path}")

    def _sniff(self):
        with open(self.file_path, "rb") as f:
            head = f.read(8)
        return next((mime for magic, mime in MAGIC if head.startswith(magic)), None)

    def infer_content_type(self):
        extension = self.file_path.suffix.lower().lstrip(".")
        mime = self._sniff() or mimetypes.guess_type(str(self.file_path))[0]
        try:
            if mime:
                try:
                    return DocumentTypeMapper.get_content_type_from_mime(mime)
                except UnsupportedDocumentError:
                    pass
            return DocumentTypeMapper.get_content_type_from_extension(extension)
        except UnsupportedDocumentError as error:
            raise UnsupportedDocumentError(f"Unable to determine content type for file: {self.file_path}") \
                from error

    def read_content(self):
        content_type = self.infer_content_type()
        if content_type not in TEXT_TYPES:
            raise NotImplementedError(f"Content extraction not implemented for {content_type.value} files.")
        return self.file_path.read_text(encoding="utf-8")

    def get_size(self):
        return self.file_path.stat().st_size

    def sha256(self):
        h = hashlib.sha256()
        with open(self.file_path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()


class Document(Model):
    FIELDS = {"id": Field(), "file": Field(), "metadata": Field()}

    def get_checksum(self):
        meta = self.metadata.model_dump(exclude={"last_updated_at", "created_at"}, exclude_none=True)
        text = json.dumps(meta, sort_keys=True, default=lambda v: getattr(v, "value", str(v)))
        return hashlib.sha256(f"{self.id}+{text}+{self.file.sha256()}".encode()).hexdigest()
