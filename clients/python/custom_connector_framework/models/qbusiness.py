"""Amazon Q Business request shapes, under the original kit's class and
field names (snake_case, with the service's camelCase as aliases), so that
a connector that builds access controls or documents with them runs as is.
"""

from enum import Enum

from custom_connector_framework.models._base import Field, Model


class ValueType(str, Enum):
    STRING_VALUE = "stringValue"
    LONG_VALUE = "longValue"
    STRING_LIST_VALUE = "stringListValue"


class Operator(str, Enum):
    EQUALS = "EQUALS"
    NOT_EQUALS = "NOT_EQUALS"
    GREATER_THAN = "GREATER_THAN"
    GREATER_THAN_OR_EQUALS = "GREATER_THAN_OR_EQUALS"
    LESS_THAN = "LESS_THAN"
    LESS_THAN_OR_EQUALS = "LESS_THAN_OR_EQUALS"
    EXISTS = "EXISTS"
    NOT_EXISTS = "NOT_EXISTS"
    CONTAINS = "CONTAINS"
    NOT_CONTAINS = "NOT_CONTAINS"


class DocumentContentOperator(str, Enum):
    DELETE = "DELETE"
    REDACT = "REDACT"


class AttributeValueOperator(str, Enum):
    REPLACE = "REPLACE"
    DELETE = "DELETE"


class MembershipType(str, Enum):
    INDEX = "INDEX"
    DATASOURCE = "DATASOURCE"


class AccessType(str, Enum):
    ALLOW = "ALLOW"
    DENY = "DENY"


class MemberRelation(str, Enum):
    AND = "AND"
    OR = "OR"


class MediaExtractionStatus(str, Enum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


def _opt(alias=None):
    return Field(None, alias=alias)


class PrincipalUser(Model):
    EXTRA = "forbid"
    FIELDS = {"access": Field(), "id": _opt(), "membership_type": _opt("membershipType")}


class PrincipalGroup(Model):
    EXTRA = "forbid"
    FIELDS = {"access": Field(), "name": _opt(), "membership_type": _opt("membershipType")}


class Principal(Model):
    EXTRA = "forbid"
    FIELDS = {"user": _opt(), "group": _opt()}


class AccessControl(Model):
    FIELDS = {"member_relation": Field(alias="memberRelation"), "principals": Field()}


class Value(Model):
    EXTRA = "forbid"
    FIELDS = {"string_value": _opt("stringValue"), "long_value": _opt("longValue"),
              "string_list_value": _opt("stringListValue")}


class Condition(Model):
    FIELDS = {"key": Field(), "operator": Field(), "value": Field()}


class Target(Model):
    FIELDS = {"key": Field(), "attribute_value_operator": Field(alias="attributeValueOperator"),
              "value": _opt()}


class InlineConfiguration(Model):
    FIELDS = {"condition": Field(), "document_content_operator": Field(alias="documentContentOperator"),
              "target": Field()}


class HookConfiguration(Model):
    FIELDS = {"invocation_condition": _opt("invocationCondition"), "lambda_arn": Field(alias="lambdaArn"),
              "role_arn": Field(alias="roleArn"), "s3_bucket_name": Field(alias="s3BucketName")}


class DocumentEnrichmentConfiguration(Model):
    FIELDS = {"inline_configurations": _opt("inlineConfigurations"),
              "pre_extraction_hook_configuration": _opt("preExtractionHookConfiguration"),
              "post_extraction_hook_configuration": _opt("postExtractionHookConfiguration")}


class AudioExtractionConfiguration(Model):
    FIELDS = {"audio_extraction_status": Field(alias="audioExtractionStatus")}


class ImageExtractionConfiguration(Model):
    FIELDS = {"image_extraction_status": Field(alias="imageExtractionStatus")}


class VideoExtractionConfiguration(Model):
    FIELDS = {"video_extraction_status": Field(alias="videoExtractionStatus")}


class MediaExtractionConfiguration(Model):
    FIELDS = {"audio_extraction_configuration": _opt("audioExtractionConfiguration"),
              "image_extraction_configuration": _opt("imageExtractionConfiguration"),
              "video_extraction_configuration": _opt("videoExtractionConfiguration")}


class AccessConfiguration(Model):
    FIELDS = {"access_controls": Field(alias="accessControls"), "member_relation": _opt("memberRelation")}


class DocumentAttribute(Model):
    FIELDS = {"name": Field(), "value": Field()}


class S3(Model):
    FIELDS = {"bucket": Field(), "key": Field()}


class DocumentContent(Model):
    """Exactly one of blob (the bytes) and s3 (where they are)."""

    EXTRA = "forbid"
    FIELDS = {"blob": _opt(), "s3": _opt()}

    def __init__(self, **data):
        super().__init__(**data)
        if isinstance(self.s3, dict):
            self.s3 = S3(**self.s3)
        if (self.blob is None) == (self.s3 is None):
            raise ValueError("Exactly one of 'blob' or 's3' must be provided")


class QBusinessDocument(Model):
    EXTRA = "forbid"
    FIELDS = {"id": Field(), "title": Field(), "content_type": Field(alias="contentType"),
              "content": Field(), "attributes": Field(default_factory=list),
              "access_configuration": _opt("accessConfiguration"),
              "document_enrichment_configuration": _opt("documentEnrichmentConfiguration"),
              "media_extraction_configuration": _opt("mediaExtractionConfiguration")}


class FailedDocument(Model):
    FIELDS = {"error_code": Field(None, alias="errorCode"), "error_message": Field(None, alias="errorMessage"),
              "id": Field()}


class BatchPutDocumentRequest(Model):
    EXTRA = "forbid"
    FIELDS = {"application_id": Field(alias="applicationId"), "index_id": Field(alias="indexId"),
              "documents": Field(), "data_source_sync_id": Field(alias="dataSourceSyncId"),
              "role_arn": _opt("roleArn")}


class BatchPutDocumentResponse(Model):
    FIELDS = {"failed_documents": Field(default_factory=list, alias="failedDocuments")}


class DocumentToDelete(Model):
    FIELDS = {"document_id": Field(alias="documentId")}


class BatchDeleteDocumentRequest(Model):
    FIELDS = {"application_id": Field(alias="applicationId"), "index_id": Field(alias="indexId"),
              "documents": Field(), "data_source_sync_id": Field(alias="dataSourceSyncId"),
              "role_arn": _opt("roleArn")}


class BatchDeleteDocumentResponse(Model):
    FIELDS = {"failed_documents": Field(default_factory=list, alias="failedDocuments")}
