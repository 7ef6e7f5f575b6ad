"""A real Orthanc on 127.0.0.1 for tests and benchmarks: temporary storage, free ports, DICOMweb plugin.

Orthanc is started as a subprocess from a generated configuration and stopped (SIGTERM, then SIGKILL) by
:meth:`Orthanc.stop`. Nothing listens on other interfaces (``RemoteAccessAllowed`` false, ports bound on
127.0.0.1 by the OS check below).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

__all__ = ["DICOMWEB_PLUGIN", "ORTHANC", "Orthanc", "free_port"]

ORTHANC = shutil.which("Orthanc") or ("/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").exists() else None)
# Debian's orthanc-dicomweb installs the plugin here (`dpkg -L orthanc-dicomweb`).
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Orthanc:
    """One Orthanc process.

    Attributes:
        root: its temporary folder (configuration, storage, log).
        username, password: HTTP basic credentials (authentication is on).
        aet: Orthanc's own AE title.
        our_aet: the AE title of our SCU/SCP, registered as a modality (C-FIND, C-GET, C-MOVE, C-STORE).
        move_port: where our C-MOVE storage SCP listens (Orthanc sends there).
    """

    root: Path
    username: str = "monai"
    password: str = "orthanc-test-password"
    aet: str = "ORTHANC"
    our_aet: str = "MONAIEXT"
    http_port: int = field(default_factory=free_port)
    dicom_port: int = field(default_factory=free_port)
    move_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.http_url}/dicom-web"

    @property
    def dimse_url(self) -> str:
        return f"dimse://{self.aet}@127.0.0.1:{self.dicom_port}"

    def config(self) -> dict[str, object]:
        return {
            "Name": "monai-ext-test",
            "StorageDirectory": str(self.root / "storage"),
            "IndexDirectory": str(self.root / "storage"),
            "StorageCompression": False,
            "HttpServerEnabled": True,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {self.username: self.password},
            "DicomServerEnabled": True,
            "DicomAet": self.aet,
            "DicomPort": self.dicom_port,
            "DicomCheckCalledAet": False,
            "DicomCheckModalityHost": True,
            "UnknownSopClassAccepted": True,
            "DicomModalities": {
                "monaiext": {
                    "AET": self.our_aet,
                    "Host": "127.0.0.1",
                    "Port": self.move_port,
                    "AllowEcho": True,
                    "AllowFind": True,
                    "AllowGet": True,
                    "AllowMove": True,
                    "AllowStore": True,
                }
            },
            "Plugins": [str(DICOMWEB_PLUGIN)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True, "StudiesMetadata": "Full"},
            "SaveJobs": False,
            "StableAge": 1,
            "MaximumStorageCacheSize": 0,
            "HttpTimeout": 30,
            "LimitFindResults": 0,
            "LimitFindInstances": 0,
        }

    def start(self, timeout: float = 30.0) -> Orthanc:
        """Write the configuration, start Orthanc and wait until its REST API and DICOMweb answer."""
        if ORTHANC is None:
            raise FileNotFoundError("Orthanc is not installed (Debian package 'orthanc')")
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "orthanc.json"
        config.write_text(json.dumps(self.config(), indent=2))
        log = (self.root / "orthanc.log").open("wb")
        self.process = subprocess.Popen([ORTHANC, str(config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if self.get("/dicom-web/studies").status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"Orthanc did not answer within {timeout} s: {self.log_tail()}")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def log_tail(self, lines: int = 20) -> str:
        path = self.root / "orthanc.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def get(self, path: str) -> requests.Response:
        return requests.get(self.http_url + path, auth=(self.username, self.password), timeout=10)

    def upload(self, files: list[Path]) -> list[str]:
        """POST files to ``/instances``; returns Orthanc's instance ids."""
        ids = []
        with requests.Session() as session:
            session.auth = (self.username, self.password)
            for path in files:
                response = session.post(self.http_url + "/instances", data=path.read_bytes(), timeout=30)
                response.raise_for_status()
                ids.append(response.json()["ID"])
        return ids

    def upload_bytes(self, data: bytes) -> str:
        response = requests.post(
            self.http_url + "/instances", data=data, auth=(self.username, self.password), timeout=30
        )
        response.raise_for_status()
        return str(response.json()["ID"])

    def delete_instance(self, orthanc_id: str) -> None:
        requests.delete(
            f"{self.http_url}/instances/{orthanc_id}", auth=(self.username, self.password), timeout=10
        ).raise_for_status()
