"""Content types Amazon Q Business takes, and how a file's extension or MIME
type maps to one (the original kit's names: ContentType, FileExtension,
MimeType, DocumentTypeMapper)."""

from enum import Enum

from custom_connector_framework.models.exceptions import UnsupportedDocumentError


class ContentType(str, Enum):
    PDF = "PDF"
    HTML = "HTML"
    XML = "XML"
    XSLT = "XSLT"
    MD = "MD"
    CSV = "CSV"
    MS_EXCEL = "MS_EXCEL"
    JSON = "JSON"
    RTF = "RTF"
    PPT = "PPT"
    MS_WORD = "MS_WORD"
    PLAIN_TEXT = "PLAIN_TEXT"


# extension -> content type, and MIME type -> content type: one table each,
# from which the enums below are made.
_EXTENSIONS = {
    "PDF": ("pdf", "PDF"), "HTML": ("html", "HTML"), "HTM": ("htm", "HTML"), "XML": ("xml", "XML"),
    "XSLT": ("xslt", "XSLT"), "XSL": ("xsl", "XSLT"), "MD": ("md", "MD"), "MARKDOWN": ("markdown", "MD"),
    "CSV": ("csv", "CSV"), "XLSX": ("xlsx", "MS_EXCEL"), "XLS": ("xls", "MS_EXCEL"),
    "JSON": ("json", "JSON"), "RTF": ("rtf", "RTF"), "PPTX": ("pptx", "PPT"), "PPT": ("ppt", "PPT"),
    "DOCX": ("docx", "MS_WORD"), "DOC": ("doc", "MS_WORD"), "TXT": ("txt", "PLAIN_TEXT"),
}
_MIMES = {
    "PDF": ("application/pdf", "PDF"), "HTML": ("text/html", "HTML"),
    "HTML_APP": ("application/html", "HTML"), "XML": ("text/xml", "XML"),
    "XML_APP": ("application/xml", "XML"), "XSLT": ("application/xslt+xml", "XSLT"),
    "MARKDOWN": ("text/markdown", "MD"), "MARKDOWN_X": ("text/x-markdown", "MD"),
    "CSV": ("text/csv", "CSV"), "CSV_APP": ("application/csv", "CSV"),
    "EXCEL": ("application/vnd.ms-excel", "MS_EXCEL"),
    "EXCEL_OPENXML": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "MS_EXCEL"),
    "JSON": ("application/json", "JSON"), "RTF": ("application/rtf", "RTF"), "RTF_TEXT": ("text/rtf", "RTF"),
    "POWERPOINT": ("application/vnd.ms-powerpoint", "PPT"),
    "POWERPOINT_OPENXML": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "PPT"),
    "WORD": ("application/msword", "MS_WORD"),
    "WORD_OPENXML": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "MS_WORD"),
    "PLAIN_TEXT": ("text/plain", "PLAIN_TEXT"),
}

FileExtension = Enum("FileExtension", {k: v[0] for k, v in _EXTENSIONS.items()}, type=str)
MimeType = Enum("MimeType", {k: v[0] for k, v in _MIMES.items()}, type=str)


class DocumentTypeMapper:
    EXTENSION_TO_CONTENT_TYPE = {FileExtension[k]: ContentType[v[1]] for k, v in _EXTENSIONS.items()}
    MIME_TO_CONTENT_TYPE = {MimeType[k]: ContentType[v[1]] for k, v in _MIMES.items()}

    @classmethod
    def get_content_type_from_extension(cls, extension):
        try:
            return cls.EXTENSION_TO_CONTENT_TYPE[FileExtension(extension.lower().lstrip("."))]
        except (ValueError, KeyError) as error:
            raise UnsupportedDocumentError(f"Unsupported file extension: {extension}") from error

    @classmethod
    def get_content_type_from_mime(cls, mime_type):
        try:
            return cls.MIME_TO_CONTENT_TYPE[MimeType(mime_type.lower())]
        except (ValueError, KeyError, AttributeError) as error:
            raise UnsupportedDocumentError(f"Unsupported MIME type: {mime_type}") from error
