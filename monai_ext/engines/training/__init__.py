"""Training run control: model selection, resume, time budget and schedule, batches, precision, initialisation."""

from __future__ import annotations

from monai_ext.engines.training.best_model import BestModelSaver, sha256_of
from monai_ext.engines.training.class_weights import class_weights
from monai_ext.engines.training.cpu_autocast import (
    CpuAutocastIteration,
    Float32Loss,
    cpu_amp_enabled,
    cpu_autocast_iteration,
)
from monai_ext.engines.training.logit_offset import LogitOffsetCalibration, fit_logit_offset
from monai_ext.engines.training.prepare_batch import AugmentedBatch
from monai_ext.engines.training.resume import ResumeCheckpoint
from monai_ext.engines.training.time_budget import TimeBudget
from monai_ext.engines.training.time_cosine_lr import TimeCosineLR
from monai_ext.engines.training.transfer import BackboneFreezer, PretrainedReport, load_pretrained

__all__ = [
    "AugmentedBatch",
    "BackboneFreezer",
    "BestModelSaver",
    "CpuAutocastIteration",
    "Float32Loss",
    "LogitOffsetCalibration",
    "PretrainedReport",
    "ResumeCheckpoint",
    "TimeBudget",
    "TimeCosineLR",
    "class_weights",
    "cpu_amp_enabled",
    "cpu_autocast_iteration",
    "fit_logit_offset",
    "load_pretrained",
    "sha256_of",
]
