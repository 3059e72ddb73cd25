"""Clients of the network services HBI stores into: MinIO (S3) here, Neo4j in hbi.graph."""
