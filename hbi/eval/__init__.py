"""Retrieval quality: HBI's own pipeline scored on any dataset in BEIR layout."""

from hbi.eval.beir import BeirDataset, evaluate_beir, load_beir
from hbi.eval.metrics import mrr_at, ndcg_at, recall_at
from hbi.eval.stats import PairedComparison, confidence_interval, paired_comparison

__all__ = [
    "BeirDataset",
    "PairedComparison",
    "confidence_interval",
    "evaluate_beir",
    "load_beir",
    "mrr_at",
    "ndcg_at",
    "paired_comparison",
    "recall_at",
]
