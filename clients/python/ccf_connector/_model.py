"""Makes botocore find ccf's service model, which ships inside this package
(data/ccf/<version>/, written by clients/gen_models.py).

botocore looks for models in the directories of AWS_DATA_PATH before its
own. register() appends ours there, so that code which calls
boto3.client("ccf", ...) unchanged gets a model that can page; a directory
the user named in AWS_DATA_PATH still comes first. A boto3 default session
made before the import gets the directory too.
"""

import os
import sys

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def register():
    paths = [p for p in os.environ.get("AWS_DATA_PATH", "").split(os.pathsep) if p]
    if DATA_DIR not in paths:
        os.environ["AWS_DATA_PATH"] = os.pathsep.join(paths + [DATA_DIR])
    boto3 = sys.modules.get("boto3")
    session = getattr(boto3, "DEFAULT_SESSION", None) if boto3 else None
    if session is not None:
        add_to_session(session._session)  # boto3 keeps its botocore session there


def add_to_session(botocore_session, first=False):
    """Adds our model directory to one botocore session's loader; first=True
    puts it ahead of everything (the kit's own client wants our model, not
    an older one named in AWS_DATA_PATH)."""
    paths = botocore_session.get_component("data_loader").search_paths
    if DATA_DIR in paths:
        if not first or paths[0] == DATA_DIR:
            return
        paths.remove(DATA_DIR)
    paths.insert(0 if first else len(paths), DATA_DIR)
