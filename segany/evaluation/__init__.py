"""Evaluation: the paper's click protocol, box prompts, mIoU tables and plots, GrabCut baselines and
everything-mode proposal recall."""

from segany.evaluation.clicks import Click, boundary_distance, deepest_point, first_click, next_click
from segany.evaluation.grabcut import GrabCutPredictor
from segany.evaluation.metrics import mask_iou, mask_to_box_xyxy, mean_iou
from segany.evaluation.proposals import ProposalRecall, average_recall, mask_iou_matrix
from segany.evaluation.protocol import (
    CLICK_COUNTS,
    SELECTIONS,
    ObjectResult,
    PromptPredictor,
    evaluate_box,
    evaluate_reader,
    simulate_clicks,
)
from segany.evaluation.report import MiouRow, miou_rows, plot_miou, write_object_csv, write_tables

__all__ = [
    "CLICK_COUNTS",
    "SELECTIONS",
    "Click",
    "GrabCutPredictor",
    "MiouRow",
    "ObjectResult",
    "PromptPredictor",
    "ProposalRecall",
    "average_recall",
    "boundary_distance",
    "deepest_point",
    "evaluate_box",
    "evaluate_reader",
    "first_click",
    "mask_iou",
    "mask_iou_matrix",
    "mask_to_box_xyxy",
    "mean_iou",
    "miou_rows",
    "next_click",
    "plot_miou",
    "simulate_clicks",
    "write_object_csv",
    "write_tables",
]
