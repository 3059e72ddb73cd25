"""The BEIR harness: metrics as pytrec_eval defines them, and HBI scored on beir-mini with
intervals and paired comparisons."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from hbi.eval import load_beir, mrr_at, ndcg_at, recall_at
from hbi.eval.beir import BeirFormatError
from hbi.eval.cli import eval_group

BEIR_MINI = Path(__file__).resolve().parents[1] / "data" / "beir-mini"
METRICS = ("ndcg@10", "recall@100", "mrr@10")


def test_ndcg_uses_linear_gains_and_log2_discounts() -> None:
    relevant = {"a": 2, "b": 1}
    ideal = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at(["a", "b"], relevant, 10) == pytest.approx(1.0)
    assert ndcg_at(["x", "b", "a"], relevant, 10) == pytest.approx(
        (1 / math.log2(3) + 2 / math.log2(4)) / ideal
    )
    assert ndcg_at(["x", "y"], relevant, 10) == 0.0
    assert ndcg_at(["x", "a"], relevant, 1) == 0.0


def test_recall_counts_relevant_documents_found() -> None:
    assert recall_at(["a", "x", "c"], {"a": 1, "b": 1, "c": 1, "d": 0}, 100) == pytest.approx(2 / 3)
    assert recall_at(["a"], {"a": 0}, 100) == 0.0


def test_mrr_is_the_first_relevant_rank_within_k() -> None:
    assert mrr_at(["x", "y", "a"], {"a": 1}, 10) == pytest.approx(1 / 3)
    assert mrr_at(["x", "y", "a"], {"a": 1}, 2) == 0.0


def test_beir_mini_is_a_beir_dataset() -> None:
    dataset = load_beir(BEIR_MINI)
    assert len(dataset.corpus) == 460 and len(dataset.queries) == 35
    assert all(set(judged) <= set(dataset.corpus) for judged in dataset.qrels.values())


def test_a_folder_without_beir_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BeirFormatError, match="corpus.jsonl"):
        load_beir(tmp_path)
    result = CliRunner().invoke(eval_group, ["beir", str(tmp_path), "--json"])
    assert result.exit_code == 2 and "not a BEIR dataset" in result.output


def test_a_dataset_without_judged_queries_is_refused(tmp_path: Path) -> None:
    write_tiny_beir(tmp_path)
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq9\td1\t1\n")
    with pytest.raises(BeirFormatError, match="no query"):
        load_beir(tmp_path)


@pytest.fixture(scope="module")
def mini_report(tmp_path_factory, monkeypatch_module) -> dict:
    home = tmp_path_factory.mktemp("hbi-home-untouched")
    monkeypatch_module.setenv("HBI_HOME", str(home))
    monkeypatch_module.delenv("HBI_INDEX_PATH", raising=False)
    result = CliRunner().invoke(eval_group, ["beir", str(BEIR_MINI), "--json", "--per-query"])
    assert result.exit_code == 0, result.output
    assert not any(home.rglob("*.sqlite")), "the evaluation wrote into the user's library"
    return json.loads(result.output)


@pytest.fixture(scope="module")
def monkeypatch_module():
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


def test_report_has_every_mode_and_metric(mini_report: dict) -> None:
    modes = {"lexical", "semantic", "hybrid"}
    assert set(mini_report) == modes | {"paired", "statistics", "queries", "docs", "per_query"}
    assert mini_report["queries"] == 35 and mini_report["docs"] == 460
    for mode in modes:
        assert set(mini_report[mode]) == {*METRICS, "ci95"}
        assert all(0.0 <= mini_report[mode][m] <= 1.0 for m in METRICS)


def test_each_mean_lies_in_its_interval(mini_report: dict) -> None:
    for mode in ("lexical", "semantic", "hybrid"):
        for metric in METRICS:
            low, high = mini_report[mode]["ci95"][metric]
            assert 0.0 <= low <= mini_report[mode][metric] <= high <= 1.0, (mode, metric)


def test_every_pair_of_modes_is_compared(mini_report: dict) -> None:
    paired = mini_report["paired"]
    assert set(paired) == {"hybrid-lexical", "hybrid-semantic", "semantic-lexical"}
    for pair, by_metric in paired.items():
        first, second = pair.split("-")
        for metric in METRICS:
            compared = by_metric[metric]
            gap = mini_report[first][metric] - mini_report[second][metric]
            assert compared["difference"] == pytest.approx(gap, abs=2e-4), (pair, metric)
            assert compared["ci95"][0] <= compared["difference"] <= compared["ci95"][1]
            assert 0.0 < compared["p"] <= 1.0
    assert mini_report["statistics"]["resamples"] == 2000


def test_per_query_scores_give_the_means(mini_report: dict) -> None:
    for mode in ("lexical", "semantic", "hybrid"):
        per_query = mini_report["per_query"][mode]
        assert len(per_query) == 35
        for metric in METRICS:
            mean = sum(scores[metric] for scores in per_query.values()) / len(per_query)
            assert mean == pytest.approx(mini_report[mode][metric], abs=1e-4)


def test_hybrid_is_not_worse_than_the_worse_list(mini_report: dict) -> None:
    for metric in METRICS:
        worse = min(mini_report["lexical"][metric], mini_report["semantic"][metric])
        assert mini_report["hybrid"][metric] >= worse, metric


def test_search_quality_on_beir_mini_holds(mini_report: dict) -> None:
    # Measured at 0.87 / 0.97 / 0.90 nDCG@10; a drop this large means something broke.
    assert mini_report["lexical"]["ndcg@10"] >= 0.7
    assert mini_report["semantic"]["ndcg@10"] >= 0.8
    assert mini_report["hybrid"]["ndcg@10"] >= 0.8
    assert mini_report["hybrid"]["recall@100"] >= 0.95


def write_tiny_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(exist_ok=True)
    docs = [
        {"_id": "d1", "title": "Harbor", "text": "A place where ships shelter from storms."},
        {"_id": "d2", "title": "Dawn", "text": "The time when men of reason go to bed."},
        {"_id": "d3", "title": "", "text": "Numerical weakness comes from preparing everywhere."},
    ]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    queries = [{"_id": "q1", "text": "ships and storms"}, {"_id": "q2", "text": "going to bed"}]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    return folder


def test_cli_prints_the_json_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(eval_group, ["beir", str(write_tiny_beir(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["queries"] == 2 and report["docs"] == 3
    assert report["hybrid"]["mrr@10"] == 1.0
    assert report["hybrid"]["ci95"]["mrr@10"] == [1.0, 1.0]
    assert "per_query" not in report


def test_the_same_seed_gives_the_same_report(tmp_path: Path) -> None:
    folder = str(write_tiny_beir(tmp_path))
    runs = [
        CliRunner().invoke(eval_group, ["beir", folder, "--json", "--seed", "7"]).output
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert json.loads(runs[0])["statistics"]["seed"] == 7


def test_cli_prints_intervals_and_paired_differences(tmp_path: Path) -> None:
    result = CliRunner().invoke(eval_group, ["beir", str(write_tiny_beir(tmp_path))])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert re.search(r"\d\.\d{3} \[\d\.\d{2}, \d\.\d{2}\]", rows["hybrid"])
    assert re.search(r"[+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\] p", rows["hybrid-lexical"])
    assert {"hybrid-semantic", "semantic-lexical"} <= set(rows)


def test_per_query_scores_need_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(eval_group, ["beir", str(tmp_path), "--per-query"])
    assert result.exit_code == 2 and "--per-query needs --json" in result.output
