"""The exceptions the original kit defines, under the same names."""


class DocumentError(Exception):
    """A document could not be handled."""


class UnsupportedDocumentError(DocumentError):
    """A file whose type Amazon Q Business does not take."""


class S3UploadError(Exception):
    """A large document could not be put in S3."""


class S3DeleteError(Exception):
    """A document could not be removed from S3."""
