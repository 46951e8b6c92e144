"""BaseCustomConnectorInterface: the original kit's abstract connector, with
its constructor, checkpoint helpers and the three methods a connector
defines."""

from abc import ABC, abstractmethod


class BaseCustomConnectorInterface(ABC):
    def __init__(self, ccf_client=None):
        self.ccf_client = ccf_client

    def get_ccf_documents(self):
        return self.ccf_client.list_documents() if self.ccf_client else None

    def get_checkpoint(self):
        return self.ccf_client.get_checkpoint() if self.ccf_client else None

    def save_checkpoint(self, checkpoint_data):
        if self.ccf_client:
            self.ccf_client.save_checkpoint(checkpoint_data)

    @abstractmethod
    def sync(self):
        """Bring the target in step with the source."""

    @abstractmethod
    def get_documents_to_add(self):
        """Yield the source's Documents (new, changed or not)."""

    @abstractmethod
    def get_documents_to_delete(self):
        """Yield the ids of documents the source no longer has."""
