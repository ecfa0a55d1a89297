"""Retrieval: ingest documents into a vector index, search it, and gate retrieval per request.

- :mod:`~orchestrator.retrieval.documents`, :mod:`~orchestrator.retrieval.chunking`: files to chunks.
- :mod:`~orchestrator.retrieval.index`: a named index over a store (:mod:`~orchestrator.retrieval.embedded`
  by default, :mod:`~orchestrator.retrieval.milvus` for scale-out).
- :mod:`~orchestrator.retrieval.gate`, :mod:`~orchestrator.retrieval.replay`: the learned gate and its offline replay.
- :mod:`~orchestrator.retrieval.service`, :mod:`~orchestrator.retrieval.node`: the pipeline step.

Heavy libraries (usearch, pymilvus, sentence-transformers) load on first use.
"""
