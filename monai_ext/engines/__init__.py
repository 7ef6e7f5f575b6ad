"""Training and evaluation pieces for MONAI engines; bundle configs reference them with ``_target_``.

Grouped by topic: ``training`` (model selection, resume, time budget and schedule, batches, CPU autocast,
initialisation), ``losses``, ``gan`` (the GAN bundle's trainer, sampling and realism map) and ``reports``
(what evaluation and inference write). ``device`` and ``distributed`` serve them all. Every public name is
also importable from ``monai_ext.engines`` itself.
"""

from __future__ import annotations

from monai_ext.engines.device import amp_enabled, default_device
from monai_ext.engines.distributed import init_distributed, is_main_process, local_device
from monai_ext.engines.gan import AmpGanTrainer, GanProgressBar, NetworkSaver, gan_loss_output, real_images
from monai_ext.engines.losses import ConsistencyLoss, ReconstructionLoss, js_divergence
from monai_ext.engines.reports import (
    AnomalyMapWriter,
    AnomalyReport,
    CaseTableError,
    ClassificationReport,
    ExplanationReport,
    LossHistory,
    OverlayRow,
    SegmentationReport,
    axial_overlay_row,
    compare_case_tables,
    inference_cases,
    plot_loss_curves,
    read_case_table,
    save_overlay_grid,
    summarize_cases,
    to_input_grid,
    write_anomaly_report,
    write_classification_report,
    write_segmentation_report,
)
from monai_ext.engines.training import (
    AugmentedBatch,
    BackboneFreezer,
    BestModelSaver,
    CpuAutocastIteration,
    Float32Loss,
    LogitOffsetCalibration,
    PretrainedReport,
    ResumeCheckpoint,
    TimeBudget,
    TimeCosineLR,
    class_weights,
    cpu_amp_enabled,
    cpu_autocast_iteration,
    fit_logit_offset,
    load_pretrained,
    sha256_of,
)

__all__ = [
    "AmpGanTrainer",
    "AnomalyMapWriter",
    "AnomalyReport",
    "AugmentedBatch",
    "BackboneFreezer",
    "BestModelSaver",
    "CaseTableError",
    "ClassificationReport",
    "ConsistencyLoss",
    "CpuAutocastIteration",
    "ExplanationReport",
    "Float32Loss",
    "GanProgressBar",
    "LogitOffsetCalibration",
    "LossHistory",
    "NetworkSaver",
    "OverlayRow",
    "PretrainedReport",
    "ReconstructionLoss",
    "ResumeCheckpoint",
    "SegmentationReport",
    "TimeBudget",
    "TimeCosineLR",
    "amp_enabled",
    "axial_overlay_row",
    "class_weights",
    "compare_case_tables",
    "cpu_amp_enabled",
    "cpu_autocast_iteration",
    "default_device",
    "fit_logit_offset",
    "gan_loss_output",
    "inference_cases",
    "init_distributed",
    "is_main_process",
    "js_divergence",
    "load_pretrained",
    "local_device",
    "plot_loss_curves",
    "read_case_table",
    "real_images",
    "save_overlay_grid",
    "sha256_of",
    "summarize_cases",
    "to_input_grid",
    "write_anomaly_report",
    "write_classification_report",
    "write_segmentation_report",
]
