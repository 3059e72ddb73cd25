"""The local no-Docker stack: real MinIO and Neo4j servers provisioned into HBI's cache."""

from hbi.stack.local import LocalStack, ServerState
from hbi.stack.process import StackError
from hbi.stack.provision import ProvisionError

__all__ = ["LocalStack", "ProvisionError", "ServerState", "StackError"]
