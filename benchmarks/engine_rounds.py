"""Data-engine rounds with simulated annotators: does annotation get cheaper as the model is retrained?

Everything goes through the engine (`segany.engine`): one store, an annotator account, projects, `prompt` events,
accepted masks, pre-fill jobs run by the engine's job runner, `retrain` registering model versions.

Round k uses model version k (round 0 = the bundled segany_small; version k+1 = version k fine-tuned on ALL
masks accepted in the `train` project in rounds <= k):
  1. held-out, assisted-manual: the simulated annotator (segany.engine.simulate) clicks each held-out human mask
     with the evaluation module's click protocol, accepting at IoU >= 0.90 (max --max-clicks clicks); NoC@85 and
     NoC@90 come from the protocol's IoU sequence, and the engine's own click count (from the prompt events)
     must equal NoC@90.
  2. held-out, semi-automatic: a pre-fill job (--prefill-iou / --prefill-stability thresholds, --prefill-points^2
     grid) on the first --semi-photos held-out photos; the annotator keeps pre-filled masks matching a human mask
     (one-to-one, greedy) at IoU >= 0.85, deletes the rest (engine keep / delete events); an object is then free
     when its match reaches 0.85 (resp. 0.90), else it costs its stage-1 NoC@85 (resp. NoC@90): clicks per mask
     over all objects of those photos. (segany_small's scores are low: at the paper's 0.88 / 0.95 it pre-fills
     nothing, hence the lower defaults.)
  3. train: the next --train-photos photos of the train splits are clicked the same way in the `train` project
     (the annotator's accepted masks: the model's mask when it reached 0.90, else the human mask = brush fix).
  4. retrain (--mode decoder | full, --steps) on the `train` project's accepted masks -> version k+1.
Held-out photos are the test splits (never trained on by segany_small, which saw horses/davis/camvid only, nor
by any round here); the train photos come from the train splits only. Each held-out project is per version,
so the held-out masks never reach the `train` project.

--self-train: from version 0, an automatic job (paper filters) on round 0's train photos, every automatic mask
accepted without review, retrain on `automatic` masks only; held-out NoC and mIoU compared with version 0.

    python benchmarks/engine_rounds.py --out /tmp/engine_rounds [--rounds 2] [--train-photos 40]
        [--heldout-masks 40] [--steps 300] [--mode decoder] [--self-train]
    (to use two processes: stop it once round1 is registered, then run `--start-round 1 --skip-first-measure`
    and `--measure-only round1` on the same --out at once; each writes results_<tag>.json)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from engine_rounds_photos import DATASETS, Photo, png, take_photos
from engine_rounds_results import VersionResult, print_table


def prefill_params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "points_per_side": args.prefill_points,
        "pred_iou_thresh": args.prefill_iou,
        "stability_score_thresh": args.prefill_stability,
        "box_nms_thresh": 0.7,
    }


def add_photos(store: Any, project_name: str, chosen: list[Photo], user_id: int) -> list[int]:
    from sqlalchemy import select

    from segany.engine.models import Membership, Project
    from segany.engine.projects import add_image, create_project

    with store.transaction() as db:
        project = db.scalar(select(Project).where(Project.name == project_name))
        if project is None:
            project = create_project(db, project_name)
            db.add(Membership(project_id=project.id, user_id=user_id))
        ids = []
        for photo in chosen:
            image, _ = add_image(db, store.blobs, project, png(photo.pixels), photo.name)
            ids.append(image.id)
        return ids


def run_jobs(
    store: Any, sam: Any, project_name: str, kind: str, params: dict[str, Any], version: int
) -> None:
    from sqlalchemy import select

    from segany.engine import jobs
    from segany.engine.models import Job, Project

    with store.session() as db:
        project_id = db.scalar(select(Project.id).where(Project.name == project_name))
    assert project_id is not None
    job = jobs.submit(store, project_id, kind, params, None, version)
    runner = jobs.JobRunner(store, sam)
    runner.run_pending()
    with store.session() as db:
        finished = db.get(Job, job.id)
        assert finished is not None
        if finished.state != "done":
            raise RuntimeError(f"{kind} job ended {finished.state}: {finished.error}")


def measure_version(
    store: Any, sam: Any, version: Any, user_id: int, heldout: list[Photo], args: argparse.Namespace
) -> VersionResult:
    from segany.engine.simulate import SimulatedAnnotator, clicks_to_reach

    result = VersionResult(version.name)
    annotator = SimulatedAnnotator(store, sam, user_id, version.id, 0.90, args.max_clicks)
    started = time.perf_counter()
    ids = add_photos(store, f"heldout-manual-{version.name}{args.suffix}", heldout, user_id)
    for image_id, photo in zip(ids, heldout):
        for clicked in annotator.click_objects(image_id, photo.pixels, photo.masks):
            result.noc85.append(clicks_to_reach(clicked.ious, 0.85, args.max_clicks))
            result.noc90.append(clicked.clicks)  # recorded by the engine; equal to the protocol's NoC@90
            result.iou1.append(clicked.ious[0])
            result.iou3.append(clicked.ious[min(2, len(clicked.ious) - 1)])
    result.seconds["manual"] = time.perf_counter() - started
    if args.prefill_points > 0 and args.semi_photos > 0:
        started = time.perf_counter()
        subset = heldout[: args.semi_photos]
        first = np.cumsum([0] + [len(p.masks) for p in subset])  # index of each photo's first mask above
        project = f"heldout-semi-{version.name}{args.suffix}"
        ids = add_photos(store, project, subset, user_id)
        run_jobs(store, sam, project, "prefill", prefill_params(args), version.id)
        for n, (image_id, photo) in enumerate(zip(ids, subset)):
            kept, deleted = annotator.review_prefilled(image_id, photo.masks, 0.85)
            result.prefilled += sum(k.kept for k in kept) + deleted
            for m, k in enumerate(kept):
                # A mask not kept is clicked exactly as in the assisted-manual stage (same model, image and
                # object, deterministic protocol): its NoC there is its cost here.
                index = int(first[n]) + m
                result.semi85.append(0 if k.kept else result.noc85[index])
                result.semi90.append(0 if k.best_iou >= 0.90 else result.noc90[index])
        result.seconds["semi"] = time.perf_counter() - started
    return result


def annotate_train(
    store: Any,
    sam: Any,
    version: Any,
    user_id: int,
    chosen: list[Photo],
    result: VersionResult,
    args: argparse.Namespace,
) -> None:
    from segany.engine.simulate import SimulatedAnnotator

    started = time.perf_counter()
    annotator = SimulatedAnnotator(store, sam, user_id, version.id, 0.90, args.max_clicks)
    ids = add_photos(store, "train", chosen, user_id)
    for image_id, photo in zip(ids, chosen):
        result.train_clicks.extend(
            c.clicks for c in annotator.click_objects(image_id, photo.pixels, photo.masks)
        )
    result.seconds["train_annotation"] = time.perf_counter() - started


def retrain_version(
    store: Any,
    project: str,
    base: Any,
    out: Path,
    name: str,
    sources: tuple[str, ...],
    args: argparse.Namespace,
) -> Any:
    from segany.engine.retrain import retrain
    from segany.engine.versions import find_version

    started = time.perf_counter()
    overrides = {
        "batch_size": args.batch_size,
        "lr": args.lr,
        "warmup_steps": max(1, args.steps // 10),
        "checkpoint_every": args.steps,
        "torch_threads": 1,
        "seed": 0,
        "hflip_prob": 0.0,  # decoder mode caches one embedding per flip variant: no flips halves the encoding
    }
    retrain(store, project, base.model, out, name, args.mode, args.steps, sources, base.id, "cpu", overrides)
    version = find_version(store, name)
    print(
        f"  retrained {name} from {base.name} ({args.mode}, {args.steps} steps, sources {sources}) in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return version


def load(version: Any) -> Any:
    from segany.cli.models import resolve_model

    sam, _ = resolve_model(version.model, "cpu")
    return sam.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="engine project folder + runs (made fresh)")
    parser.add_argument("--rounds", type=int, default=2, help="retrain rounds (versions 0..rounds)")
    parser.add_argument("--train-photos", type=int, default=40, help="train photos annotated per round")
    parser.add_argument("--heldout-masks", type=int, default=40)
    parser.add_argument("--per-image", type=int, default=3, help="largest human masks used per photo")
    parser.add_argument("--min-area", type=int, default=1500, help="smallest human mask used (pixels)")
    parser.add_argument("--max-clicks", type=int, default=20)
    parser.add_argument("--mode", choices=("decoder", "finetune", "full"), default="decoder")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--prefill-points", type=int, default=16, help="pre-fill / automatic grid side")
    parser.add_argument(
        "--prefill-iou", type=float, default=0.5, help="pre-fill / automatic predicted-IoU threshold"
    )
    parser.add_argument("--prefill-stability", type=float, default=0.5, help="... and stability threshold")
    parser.add_argument("--semi-photos", type=int, default=10, help="held-out photos of stage 2 (0: skip)")
    parser.add_argument("--model", default="segany_small", help="round 0's model")
    parser.add_argument("--self-train", action="store_true")
    parser.add_argument("--start-round", type=int, default=0, help="continue an earlier run from round k")
    parser.add_argument("--skip-first-measure", action="store_true", help="... without measuring round k")
    parser.add_argument("--measure-only", default=None, help="only measure this version of an earlier run")
    parser.add_argument(
        "--suffix", default="", help="added to the held-out project names (a repeated measure)"
    )
    args = parser.parse_args()

    import torch

    from segany.engine.accounts import create_user
    from segany.engine.server import register_model_version
    from segany.engine.store import open_store
    from segany.engine.versions import find_version
    from segany.training.embedding_cache import model_fingerprint

    torch.set_num_threads(1)
    resuming = args.start_round > 0 or args.measure_only is not None
    if not resuming and args.out.exists() and any(args.out.iterdir()):
        raise SystemExit(f"--out must be a new or empty folder, got {args.out}")
    store = open_store(args.out / "project")
    if resuming:  # a later round (or one version's measurement) of a run made before, in parallel if wanted
        from sqlalchemy import select

        from segany.engine.models import User

        with store.session() as db:
            found = db.scalar(select(User.id).where(User.username == "simulated"))
        if found is None:
            raise SystemExit(f"--start-round / --measure-only need an earlier run in {args.out}")
        user_id = int(found)
    else:
        with store.transaction() as db:
            user_id = create_user(db, "simulated", "simulated-annotator-password", "annotator").id
    heldout = take_photos(1, None, args.heldout_masks, 0, args.per_image, args.min_area)
    print(
        f"held-out: {len(heldout)} test photos, {sum(len(p.masks) for p in heldout)} masks "
        f"({', '.join(d[0] for d in DATASETS)})",
        flush=True,
    )
    sam = load_model_name(args.model)
    version = find_version(
        store,
        str(register_model_version(store, args.model, model_fingerprint(sam, sam.image_size), "round0")),
    )
    results: list[VersionResult] = []
    if args.measure_only is not None:
        version = find_version(store, args.measure_only)
        sam = load(version) if version.name != "round0" else sam
        args.rounds, args.self_train = -1, False
    elif args.start_round > 0:
        version = find_version(store, f"round{args.start_round}")
        sam = load(version)
    if args.measure_only is not None:
        result = measure_version(store, sam, version, user_id, heldout, args)
        results.append(result)
        print("  " + json.dumps(result.row()), flush=True)
    per_dataset = max(1, args.train_photos // len(DATASETS))
    for k in range(args.start_round, args.rounds + 1):
        print(f"round {k}: model version {version.name}", flush=True)
        result = VersionResult(version.name)
        if not (k == args.start_round and args.skip_first_measure):
            result = measure_version(store, sam, version, user_id, heldout, args)
            results.append(result)
            print("  " + json.dumps(result.row()), flush=True)
        if k == args.rounds:
            break
        chosen = take_photos(2, args.train_photos, None, k * per_dataset, args.per_image, args.min_area)
        annotate_train(store, sam, version, user_id, chosen, result, args)
        print(
            f"  train annotation: {len(chosen)} photos, {len(result.train_clicks)} masks, "
            f"{np.mean(result.train_clicks):.2f} clicks per mask",
            flush=True,
        )
        version = retrain_version(
            store, "train", version, args.out / f"run{k + 1}", f"round{k + 1}", ("manual",), args
        )
        sam = load(version)
    if args.self_train:
        base = find_version(store, "round0")
        chosen = take_photos(2, args.train_photos, None, 0, args.per_image, args.min_area)
        add_photos(store, "selftrain", chosen, user_id)
        sam0 = load_model_name(args.model)
        run_jobs(store, sam0, "selftrain", "automatic", prefill_params(args), base.id)
        accepted = accept_all_automatic(store, "selftrain", user_id)
        print(
            f"self-training: {accepted} automatic masks accepted unreviewed on {len(chosen)} photos",
            flush=True,
        )
        version = retrain_version(
            store, "selftrain", base, args.out / "run_selftrain", "selftrain", ("automatic",), args
        )
        result = measure_version(store, load(version), version, user_id, heldout, args)
        results.append(result)
        print("  " + json.dumps(result.row()), flush=True)
    rows = [result.row() for result in results]
    tag = args.measure_only or f"from{args.start_round}"
    (args.out / f"results_{tag}.json").write_text(json.dumps(rows, indent=1))
    print_table(rows)
    store.close()


def load_model_name(name: str) -> Any:
    from segany.cli.models import resolve_model

    sam, _ = resolve_model(name, "cpu")
    return sam.eval()


def accept_all_automatic(store: Any, project_name: str, user_id: int) -> int:
    from sqlalchemy import select

    from segany.engine import annotating
    from segany.engine.models import Annotation, Project

    with store.transaction() as db:
        project_id = db.scalar(select(Project.id).where(Project.name == project_name))
        rows = list(
            db.scalars(
                select(Annotation).where(
                    Annotation.project_id == project_id,
                    Annotation.source == "automatic",
                    Annotation.status == "proposed",
                )
            )
        )
        for row in rows:
            annotating.decide(db, row, row.version, user_id, keep=True)
        return len(rows)


if __name__ == "__main__":
    main()
