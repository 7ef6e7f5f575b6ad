"""The red-team corpus: every exploit bundle ends in a typed refusal or a harmless run, inside its bounds.

All cases run in two child processes (hostile and harmless) limited by ``RLIMIT_AS`` and a timeout. Around
them: a snapshot of the whole temporary tree (nothing may change outside the output folders), a listener on
127.0.0.1 that must see no connection, and a private ``TMPDIR`` that must hold no extracted bundle afterwards.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import nibabel as nib
import pytest

from tests.bundle.conftest import ellipsoid_mask, oblique_affine
from tests.bundle.redteam.cases import CASES, Context, build_all

REPO = Path(__file__).resolve().parents[3]
ADDRESS_SPACE = 6 << 30  # torch's libraries alone reserve ~2-3 GB of address space
PEAK_RSS_MB = 2500
# Time is bounded against an honest run of the unmodified shipped classifier through the same door, in the same
# batch: ``run_bundle`` in the harness's process, or ``monai-ext infer``, which starts a fresh sandboxed process
# (about 10 s of imports). The bound holds on a slow CI machine as on a fast one: a refusal may cost at most one
# honest run, a harmless run at most 1.5 honest runs (plus a few seconds of slack for the first imports).
# ``KILL_SECONDS`` is the child's hard stop.
BASELINES = {"run": "shipped_classifier", "cli": "cli_shipped_classifier"}
BASELINE = BASELINES["run"]  # the baseline of the cases that are not CLI runs
REFUSED_RUNS, HARMLESS_RUNS, SLACK_SECONDS = 1.0, 1.5, 5.0
KILL_SECONDS = 120
# The whole batch's stop, there to end a hang before CI's limit; not a per-case bound. A refusal takes well under
# a second, an honest run about one (``run_bundle``) or a dozen (the CLI's sandboxed process) seconds here, so the
# allowance is several times the batch's ordinary length and stays above the sum of the per-case bounds on a
# machine twice as slow.
BATCH_SECONDS_PER_CASE = 25


def _snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    for folder, dirs, files in os.walk(root):
        if Path(folder) == skip:
            dirs[:] = []
            continue
        for name in dirs:  # a folder's own mtime changes when its outputs appear: only its existence counts
            found[str((Path(folder) / name).relative_to(root))] = (0, 0)
        for name in files:
            path = Path(folder) / name
            info = path.lstat()
            found[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns)
    return found


def _run_batch(cases: list[dict[str, Any]], work: Path, tmpdir: Path, label: str, cache: Path) -> list[dict[str, Any]]:
    plan = work / f"plan_{label}.json"
    results = work / f"results_{label}.jsonl"
    plan.write_text(json.dumps({"address_space_bytes": ADDRESS_SPACE, "case_seconds": KILL_SECONDS, "cases": cases}))
    env = os.environ | {"TMPDIR": str(tmpdir), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
                        "TORCHINDUCTOR_CACHE_DIR": str(cache), "MPLCONFIGDIR": str(cache)}  # fmt: skip
    budget = 60 + BATCH_SECONDS_PER_CASE * len(cases)
    subprocess.run([sys.executable, "-m", "tests.bundle.redteam.harness", str(plan), str(results)],
                   env=env, cwd=work, timeout=budget, check=False, capture_output=True)  # fmt: skip
    return [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []


def _cli_out(case: dict[str, Any]) -> Path | None:
    argv = case.get("argv", [])
    return Path(argv[argv.index("--out") + 1]) if "--out" in argv else None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("redteam")
    root, outside, tmpdir = base / "corpus", base / "outside", base / "tmp"
    for folder in (root, outside, tmpdir):
        folder.mkdir()
    (outside / "secret.json").write_text(json.dumps({"token": "s3cret"}))
    input_path = root / "input.nii.gz"
    # a small oblique gland on which the classifier's Grad-CAM is not empty, so honest runs take about a second and
    # not the occlusion fallback's twenty: the bounds below are relative to an honest run
    nib.save(
        nib.Nifti1Image(ellipsoid_mask((24, 28, 20), (4.0, 9.0, 6.0)), oblique_affine((1.2, 0.9, 1.6))), input_path
    )
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.setblocking(False)
    try:
        ctx = Context(root=root, outside=outside, input_path=input_path, port=listener.getsockname()[1])
        cases = build_all(ctx)
        (root / "out").mkdir()
        before = _snapshot(base, skip=root / "out")
        hostile = [c for c in cases if c["expect"] == "refused"]
        benign = [c for c in cases if c["expect"] == "ok"]
        cache = root / "out" / "_caches"  # torch and matplotlib caches, not the bundles' doing
        records = _run_batch(hostile, base, tmpdir, "hostile", cache) + _run_batch(
            benign, base, tmpdir, "harmless", cache
        )
        after = _snapshot(base, skip=root / "out")
        try:
            connection, peer = listener.accept()
            connection.close()
            connected = [peer]
        except BlockingIOError:
            connected = []
    finally:
        listener.close()
    if report := os.environ.get("MONAI_EXT_REDTEAM_REPORT"):  # per-case outcome, time and memory, for the notes
        attacks = {name: attack for name, (attack, _) in CASES.items()}
        Path(report).write_text(json.dumps([r | {"attack": attacks.get(r["name"])} for r in records], indent=1))
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    changed -= {"plan_hostile.json", "plan_harmless.json", "results_hostile.jsonl", "results_harmless.jsonl"}
    return {"cases": {c["name"]: c for c in cases}, "records": {r["name"]: r for r in records},
            "changed": sorted(changed), "connected": connected, "tmpdir": tmpdir, "root": root}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_ends_typed_or_harmless(corpus: dict[str, Any], name: str) -> None:
    case = corpus["cases"][name]
    record = corpus["records"].get(name)
    assert record is not None, f"{name}: no result (the child process died before it: memory or time limit)"
    assert record["outcome"] != "crash", f"{name}: {record['type']} escaped:\n{record['message']}"
    reference = BASELINES.get(case["action"], BASELINE)
    baseline = corpus["records"].get(reference, {}).get("seconds")
    assert baseline is not None, f"{name}: the baseline case {reference} has no result"
    runs = HARMLESS_RUNS if case["expect"] == "ok" else REFUSED_RUNS
    bound = runs * baseline + SLACK_SECONDS
    over = f"over {runs} x {reference}'s {baseline} s + {SLACK_SECONDS:g} s"
    assert record["seconds"] < bound, f"{name}: {record['seconds']} s, {over}"
    assert record["peak_rss_mb"] < PEAK_RSS_MB, f"{name}: {record['peak_rss_mb']} MB"
    if case["expect"] == "ok":
        assert record["outcome"] == "ok", f"{name}: refused: {record.get('message')}"
        out = Path(case["request"]["outputDir"]) if "request" in case else _cli_out(case)
        assert out is None or (out / "result.json").is_file()
        for target in case.get("absent", []):
            assert not Path(target).exists(), f"{name}: {target} was written"
        return
    assert record["outcome"] == "refused", f"{name}: ran instead of being refused"
    assert record["type"] == case["error"], f"{name}: {record['type']}: {record['message']}"
    for text in case["match"]:
        assert text in record["message"], f"{name}: {text!r} not in {record['message']!r}"
    assert "Traceback" not in record["message"]


def test_nothing_written_outside_the_output_folders(corpus: dict[str, Any]) -> None:
    assert corpus["changed"] == []


def test_no_connection_reached_the_listener(corpus: dict[str, Any]) -> None:
    assert corpus["connected"] == []


def test_no_extracted_bundle_is_left_behind(corpus: dict[str, Any]) -> None:
    assert sorted(p.name for p in corpus["tmpdir"].iterdir()) == []


def test_outputs_stay_in_their_folders(corpus: dict[str, Any]) -> None:
    for name, case in corpus["cases"].items():
        out = Path(case.get("request", {}).get("outputDir", corpus["root"] / "out" / name))
        if out.exists():
            for path in out.rglob("*"):
                assert path.resolve().is_relative_to(out.resolve()), path
