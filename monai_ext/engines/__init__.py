"""Training and evaluation pieces for MONAI engines; bundle configs reference them with ``_target_``."""

from __future__ import annotations

from monai_ext.engines.anomaly_report import AnomalyReport, write_anomaly_report
from monai_ext.engines.anomaly_writer import AnomalyMapWriter, inference_cases, to_input_grid
from monai_ext.engines.best_model import BestModelSaver, sha256_of
from monai_ext.engines.case_comparison import CaseTableError, compare_case_tables, read_case_table
from monai_ext.engines.class_weights import class_weights
from monai_ext.engines.classification_report import ClassificationReport, write_classification_report
from monai_ext.engines.consistency_loss import ConsistencyLoss, js_divergence
from monai_ext.engines.cpu_autocast import CpuAutocastIteration, Float32Loss, cpu_amp_enabled, cpu_autocast_iteration
from monai_ext.engines.device import amp_enabled, default_device
from monai_ext.engines.distributed import init_distributed, is_main_process, local_device
from monai_ext.engines.explanation_report import ExplanationReport
from monai_ext.engines.gan_handlers import GanProgressBar, NetworkSaver
from monai_ext.engines.gan_trainer import AmpGanTrainer, gan_loss_output, real_images
from monai_ext.engines.logit_offset import LogitOffsetCalibration, fit_logit_offset
from monai_ext.engines.loss_curves import LossHistory, plot_loss_curves
from monai_ext.engines.overlay_grid import OverlayRow, axial_overlay_row, save_overlay_grid
from monai_ext.engines.prepare_batch import AugmentedBatch
from monai_ext.engines.reconstruction_loss import ReconstructionLoss
from monai_ext.engines.resume import ResumeCheckpoint
from monai_ext.engines.segmentation_report import SegmentationReport, summarize_cases, write_segmentation_report
from monai_ext.engines.time_budget import TimeBudget
from monai_ext.engines.time_cosine_lr import TimeCosineLR
from monai_ext.engines.transfer import BackboneFreezer, PretrainedReport, load_pretrained

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
