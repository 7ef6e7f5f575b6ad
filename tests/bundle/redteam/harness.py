"""The child side of the red-team corpus: run hostile cases under memory and time limits, report JSON lines.

Usage: ``python -m tests.bundle.redteam.harness PLAN.json RESULTS.jsonl``. The plan lists cases (see
``cases.py``); for each one a line ``{"name", "outcome": "refused" | "ok" | "crash", "type", "message",
"seconds", "peak_rss_mb"}`` is appended to the results file as soon as the case ends, so a crash or a kill
still leaves the earlier results.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any


class _Timeout(Exception):  # noqa: N818 - mirrors the signal
    pass


def _alarm(_signum: int, _frame: object) -> None:
    raise _Timeout("the case ran longer than the plan's case_seconds")


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    """Run one case; a typed ``BundleError`` is a refusal, anything else escaping is a crash."""
    from monai_ext.bundle import BundleError, load_bundle
    from monai_ext.bundle.runner import run_bundle

    action = case["action"]
    if action == "run":
        run_bundle(case["request"])
    elif action == "load":
        with load_bundle(case["bundle"], **case.get("kwargs", {})):
            pass
    elif action.startswith("get:"):
        with load_bundle(case["bundle"]) as bundle:
            bundle.config.get(action.removeprefix("get:"))
    elif action == "cli":
        from monai_ext.cli.main import main

        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            code = main(case["argv"])
        lines = [line for line in stderr.getvalue().splitlines() if line.startswith("error:")]
        if code == 2 and len(lines) == 1:
            raise BundleError(lines[0])
        if code != 0:
            raise RuntimeError(f"exit code {code}, stderr {stderr.getvalue()[-500:]!r}")
    else:
        raise ValueError(f"unknown action {action}")
    return {"outcome": "ok"}


def main(argv: list[str]) -> int:
    plan = json.loads(Path(argv[1]).read_text())
    results = Path(argv[2])
    limit = int(plan["address_space_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import torch

    torch.set_num_threads(1)
    from monai_ext.bundle import BundleError

    seconds = int(plan["case_seconds"])  # the hard stop; the test bounds each case more tightly
    signal.signal(signal.SIGALRM, _alarm)
    for case in plan["cases"]:
        start = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        signal.alarm(seconds)
        try:
            record = run_case(case)
        except BundleError as err:
            record = {"outcome": "refused", "type": type(err).__name__, "message": str(err)}
        except BaseException as err:
            record = {"outcome": "crash", "type": type(err).__name__, "message": traceback.format_exc()[-2000:]}
        finally:
            signal.alarm(0)
        record |= {
            "name": case["name"],
            "seconds": round(time.perf_counter() - start, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_growth_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, 1),
        }
        with results.open("a") as stream:
            stream.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
