"""Resource limits in a sandboxed child: memory, CPU time and file size are capped; the caller gets a message."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from monai_ext.sandbox import ResourceLimits, SandboxPolicy, run_sandboxed

from .conftest import linux_only

pytestmark = linux_only
MIB = 1 << 20


def policy(out: Path, **limits: int) -> SandboxPolicy:
    return SandboxPolicy(write_dirs=(out,), limits=ResourceLimits(**limits))


def test_memory_cap_turns_a_huge_allocation_into_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_sandboxed(
        "tests.sandbox.hooks:allocate", {"bytes": 4096 * MIB}, policy(tmp_path, memory_bytes=512 * MIB)
    )
    assert code == 2 and "MemoryError" in capsys.readouterr().err


def test_cpu_time_cap_ends_a_spinning_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start = time.monotonic()
    code = run_sandboxed("tests.sandbox.hooks:spin", {"seconds": 60}, policy(tmp_path, cpu_seconds=1))
    assert code == 2 and "CPU-time limit (1 s)" in capsys.readouterr().err
    assert time.monotonic() - start < 30


def test_file_size_cap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "big.bin"
    code = run_sandboxed("tests.sandbox.hooks:write_big", {"path": str(target), "bytes": 2 * MIB},
                         policy(tmp_path, file_size_bytes=MIB))  # fmt: skip
    assert code == 0 and "File too large" in capsys.readouterr().out
    assert target.stat().st_size <= MIB


def test_an_output_folder_that_cannot_be_made_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = run_sandboxed("tests.sandbox.hooks:spin", {"seconds": 0}, policy(Path("/proc/no-such/out")))
    assert code == 2 and "cannot set up the sandbox" in capsys.readouterr().err
