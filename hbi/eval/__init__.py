"""Retrieval quality: HBI's own pipeline scored on any dataset in BEIR layout."""

from hbi.eval.beir import BeirDataset, evaluate_beir, load_beir
from hbi.eval.metrics import mrr_at, ndcg_at, recall_at

__all__ = ["BeirDataset", "evaluate_beir", "load_beir", "mrr_at", "ndcg_at", "recall_at"]
