"""custom_connector_framework: the original builder kit's public names and
signatures, on ccf_connector.

A connector written for the original kit (QBusinessCustomConnectorInterface,
CCFClient, Document, DocumentFile, DocumentMetadata and the Q Business
models) runs unchanged on this package. Where the original was wrong, this
one is fixed (clients/python/README.md lists how): it pages with a model
that can, sends the checkpoint as a string, records a checksum only for a
document the target took, and installs under its own name.

Importing it registers ccf's botocore model (shipped in ccf_connector), so
boto3.client("ccf", ...) needs no AWS_DATA_PATH.
"""

from ccf_connector import _model

_model.register()  # already done by ccf_connector's import; says why this package needs it
