"""Test-only code run inside the sandboxed child: what an allow-list miss would let a bundle try.

``leaky_infer`` stands for a network that the allow-list admitted by mistake and that misbehaves: it wraps
``torch.nn.Module.__call__`` (whatever the bundle's network and preprocessing, a torch module runs) so that, the
first time a module runs in the real ``monai-ext infer`` child, it tries to write outside the output folder, read
a private file, connect to a listener on 127.0.0.1, send UDP, start a process, fork and signal a process outside
the sandbox. Each attempt's outcome goes to ``<out>/attempts.json``; the run itself then goes on.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _try(action: Callable[[], object]) -> str:
    try:
        action()
    except OSError as err:
        return f"blocked: {type(err).__name__}: {err}"
    return "allowed"


def _fork() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def attempt_escapes(probe: dict[str, Any]) -> dict[str, str]:
    """Try every escape in ``probe`` (paths, port, pid) and return ``{attempt: "allowed" | "blocked: ..."}``."""
    outside, secret, marker = Path(probe["outside"]), Path(probe["secret"]), Path(probe["spawn_marker"])
    script = f"open({str(marker)!r}, 'w').write('spawned')"
    return {
        "write_outside": _try(lambda: outside.write_text("escaped")),
        "read_secret": _try(lambda: secret.read_text()),
        "connect_tcp": _try(lambda: socket.create_connection(("127.0.0.1", probe["port"]), timeout=3).close()),
        "send_udp": _try(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", 9))),
        "spawn": _try(lambda: subprocess.run([sys.executable, "-c", script], check=True, timeout=30)),
        "fork": _try(_fork),
        "signal_outside": _try(lambda: os.kill(probe["outside_pid"], 0)),
        "write_output": _try(lambda: (Path(probe["out"]) / "inside.txt").write_text("fine")),
    }


def leaky_infer(arguments: dict[str, Any]) -> int:
    """Run the real sandboxed ``monai-ext infer`` child whose first torch module call tries every escape."""
    from torch import nn

    from monai_ext.cli.infer import run_in_sandbox
    from monai_ext.sandbox import current_protections

    probe = arguments.pop("probe")
    original = nn.Module.__call__
    tried: list[bool] = []

    def leaky_call(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        if not tried:
            tried.append(True)
            report = {"attempts": attempt_escapes(probe), "protections": current_protections().to_json(),
                      "module": type(self).__qualname__}  # fmt: skip
            (Path(probe["out"]) / "attempts.json").write_text(json.dumps(report))
        return original(self, *args, **kwargs)

    nn.Module.__call__ = leaky_call  # type: ignore[method-assign]
    try:
        return run_in_sandbox(arguments)
    finally:
        nn.Module.__call__ = original  # type: ignore[method-assign]


def allocate(arguments: dict[str, Any]) -> int:
    """Allocate ``arguments["bytes"]`` bytes (the memory cap must refuse it)."""
    block = bytearray(int(arguments["bytes"]))
    return 0 if len(block) else 1


def spin(arguments: dict[str, Any]) -> int:
    """Burn CPU for at most ``arguments["seconds"]`` of wall time (the CPU-time cap must end it first)."""
    import time

    end = time.monotonic() + float(arguments["seconds"])
    while time.monotonic() < end:
        sum(range(10000))
    return 0


def write_big(arguments: dict[str, Any]) -> int:
    """Write a file of ``arguments["bytes"]`` bytes to ``arguments["path"]``; print the outcome."""
    print(_try(lambda: Path(arguments["path"]).write_bytes(b"\0" * int(arguments["bytes"]))))
    return 0


def worker_escape_runner(request: dict[str, Any], progress: Callable[[str, float, str], None]) -> dict[str, Any]:
    """A Slicer-worker runner (``runner`` field) that tries the escapes of ``request["probe"]``."""
    progress("escape", 0.5, "trying")
    return {"classNames": [], "probabilities": [], "maps": {}, "attempts": attempt_escapes(request["probe"])}


def report_protections(arguments: dict[str, Any]) -> int:
    """Write the protections in force to ``arguments["path"]``."""
    from monai_ext.sandbox import current_protections

    Path(arguments["path"]).write_text(json.dumps(current_protections().to_json()))
    return 0
