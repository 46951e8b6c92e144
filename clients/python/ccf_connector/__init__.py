"""ccf_connector: write a ccf connector in a few lines of Python.

    from ccf_connector import Connector, Document

    class Files(Connector):
        def documents(self):
            yield Document("a.txt", content=b"hello")

    if __name__ == "__main__":
        Files.main()

Importing the package also makes botocore find ccf's model (shipped
inside it), so boto3.client("ccf", ...) works without AWS_DATA_PATH.
"""

from . import _model

_model.register()

from .client import BATCH_MAX, Client, ConfigError, batches  # noqa: E402
from .connector import Connector, Stats, load_checkpoint  # noqa: E402
from .document import Document, valid_checksum  # noqa: E402

__version__ = "0.1.0"
__all__ = ["BATCH_MAX", "Client", "ConfigError", "Connector", "Document", "Stats", "batches",
           "load_checkpoint", "valid_checksum"]
