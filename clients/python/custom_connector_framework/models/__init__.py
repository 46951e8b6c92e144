"""Models of the framework: documents, Q Business shapes, exceptions."""
