"""Training and evaluation pieces for MONAI engines; bundle configs reference them with ``_target_``."""

from __future__ import annotations

from monai_ext.engines.best_model import BestModelSaver, sha256_of
from monai_ext.engines.class_weights import class_weights
from monai_ext.engines.classification_report import ClassificationReport, write_classification_report
from monai_ext.engines.device import amp_enabled, default_device
from monai_ext.engines.distributed import init_distributed, is_main_process, local_device
from monai_ext.engines.prepare_batch import AugmentedBatch
from monai_ext.engines.resume import ResumeCheckpoint
from monai_ext.engines.transfer import BackboneFreezer, PretrainedReport, load_pretrained

__all__ = [
    "AugmentedBatch",
    "BackboneFreezer",
    "BestModelSaver",
    "ClassificationReport",
    "PretrainedReport",
    "ResumeCheckpoint",
    "amp_enabled",
    "class_weights",
    "default_device",
    "init_distributed",
    "is_main_process",
    "load_pretrained",
    "local_device",
    "sha256_of",
    "write_classification_report",
]
