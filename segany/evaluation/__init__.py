"""Evaluation: the paper's click protocol, box prompts, mIoU tables and plots, GrabCut baselines and
everything-mode proposal recall."""

from segany.evaluation.clicks import Click, boundary_distance, deepest_point, first_click, next_click
from segany.evaluation.grabcut import GrabCutPredictor
from segany.evaluation.metrics import mask_iou, mask_to_box_xyxy, mean_iou
from segany.evaluation.proposals import (
    PAPER_PROPOSAL_SETTINGS,
    ProposalRecall,
    ProposalResult,
    average_recall,
    evaluate_proposals,
    mask_iou_matrix,
    write_proposal_tables,
)
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
    "PAPER_PROPOSAL_SETTINGS",
    "SELECTIONS",
    "Click",
    "GrabCutPredictor",
    "MiouRow",
    "ObjectResult",
    "PromptPredictor",
    "ProposalRecall",
    "ProposalResult",
    "average_recall",
    "boundary_distance",
    "deepest_point",
    "evaluate_box",
    "evaluate_proposals",
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
    "write_proposal_tables",
    "write_tables",
]
