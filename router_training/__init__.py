"""Offline training of the two-level router: fit on a routing file, write the artifact folder
and a reviewable expert-profile YAML (``orchestrator train``)."""

from router_training.embedding_cache import cached_embeddings
from router_training.train import TrainReport, profile_yaml, train_router

__all__ = ["TrainReport", "cached_embeddings", "profile_yaml", "train_router"]
