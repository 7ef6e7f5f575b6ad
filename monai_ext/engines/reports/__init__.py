"""What evaluation and inference write: metrics, per-case tables, curves, overlay grids and anomaly maps."""

from __future__ import annotations

from monai_ext.engines.reports.anomaly import AnomalyReport, write_anomaly_report
from monai_ext.engines.reports.anomaly_maps import AnomalyMapWriter, inference_cases, to_input_grid
from monai_ext.engines.reports.case_comparison import CaseTableError, compare_case_tables, read_case_table
from monai_ext.engines.reports.classification import ClassificationReport, write_classification_report
from monai_ext.engines.reports.explanation import ExplanationReport
from monai_ext.engines.reports.loss_curves import LossHistory, plot_loss_curves
from monai_ext.engines.reports.overlay_grid import OverlayRow, axial_overlay_row, save_overlay_grid
from monai_ext.engines.reports.segmentation import SegmentationReport, summarize_cases, write_segmentation_report

__all__ = [
    "AnomalyMapWriter",
    "AnomalyReport",
    "CaseTableError",
    "ClassificationReport",
    "ExplanationReport",
    "LossHistory",
    "OverlayRow",
    "SegmentationReport",
    "axial_overlay_row",
    "compare_case_tables",
    "inference_cases",
    "plot_loss_curves",
    "read_case_table",
    "save_overlay_grid",
    "summarize_cases",
    "to_input_grid",
    "write_anomaly_report",
    "write_classification_report",
    "write_segmentation_report",
]
