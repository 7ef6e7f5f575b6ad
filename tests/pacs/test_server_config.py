"""Server addresses and credentials: URLs, the config file and the environment (never the command line)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from monai_ext.pacs import PacsConfigError, parse_server, resolve_server
from tests.conftest import REPO


def test_urls_pick_the_protocol() -> None:
    web = parse_server("https://pacs.example.org/dicom-web/")
    assert (web.protocol, web.url, web.port) == ("dicomweb", "https://pacs.example.org/dicom-web", 443)
    dimse = parse_server("dimse://HOSPITAL@10.0.0.5:11112?calling_ae=RESEARCH&retrieve=move&move_port=11113")
    assert (dimse.protocol, dimse.host, dimse.port, dimse.called_ae) == ("dimse", "10.0.0.5", 11112, "HOSPITAL")
    assert (dimse.calling_ae, dimse.retrieve, dimse.move_port) == ("RESEARCH", "move", 11113)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://pacs/x", "http"),
        ("dimse://AE@host", "needs a host and a port"),
        ("dimse://AE@host:104?retrieve=move", "move_port"),
        ("dimse://AE@host:104?colour=red", "unknown DIMSE options"),
        ("https://user:secret@pacs/dicom-web", "not in the URL"),
    ],
)
def test_bad_urls(url: str, problem: str) -> None:
    with pytest.raises(PacsConfigError, match=problem):
        parse_server(url)


def test_config_file_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "pacs.json"
    entry = {"url": "http://127.0.0.1:8042/dicom-web", "username": "alice", "password_env": "HOSPITAL_PW"}
    config.write_text(json.dumps({"servers": {"hospital": entry}}))
    env = {"MONAI_EXT_PACS_CONFIG": str(config), "HOSPITAL_PW": "from-env"}
    server = resolve_server("hospital", environ=env)
    assert (server.url, server.username, server.password) == (entry["url"], "alice", "from-env")
    assert "from-env" not in repr(server)  # the password is never printed
    server = resolve_server(None, environ=env | {"MONAI_EXT_PACS": "hospital", "MONAI_EXT_PACS_PASSWORD": "override"})
    assert server.password == "override"
    assert resolve_server("hospital", username="bob", environ=env).username == "bob"
    with pytest.raises(PacsConfigError, match="no server 'elsewhere'"):
        resolve_server("elsewhere", environ=env)
    with pytest.raises(PacsConfigError, match="no server given"):
        resolve_server(None, environ={})
    with pytest.raises(PacsConfigError, match="no configuration file"):
        resolve_server("hospital", environ={"MONAI_EXT_PACS_CONFIG": str(tmp_path / "missing.json")})


def test_pacs_and_dicom_results_do_not_import_torch() -> None:
    code = (
        "import sys; import monai_ext.cli.main, monai_ext.cli.pacs, monai_ext.pacs.pull, monai_ext.pacs.push, "
        "monai_ext.pacs.dimse, monai_ext.pacs.dicomweb, monai_ext.dicom_results; "
        "print(sorted(m for m in ('torch', 'monai') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
