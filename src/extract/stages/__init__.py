"""The pipeline stages: ingest, chunk, extract, validate, report, merge.

Each stage is a subpackage or module with a small public API; the pipeline wires them.
"""
