"""The framework's logger: one named logger, INFO and up, with time and level
(the original configures the root logger the same way on import)."""

import logging

logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(levelname)s - %(message)s")

logger = logging.getLogger(__name__)
