"""An artifact's life after its save: versions, filters, lineage queries and retention.

Each concern has its own module here; `ArtifactStore` methods delegate to them. They work
over the storage layer and its index, never over payloads.
"""
