"""The fully automatic stage at scale: `segany auto` over many images, locally or on Ray, resumable.

- :mod:`.manifest`: the input (folder, glob, list file, Parquet / CSV / JSONL manifest) and its shards;
- :mod:`.boxes`: boxes per image (a detector's output) for boxes mode;
- :mod:`.settings`: the settings hash and the model fingerprint that identify a run's outputs;
- :mod:`.work`: the per-image work both engines share; :mod:`.sources`: reading local paths and URLs;
- :mod:`.store`: the output folder (staging, atomic shard commits, done markers); :mod:`.plan`: what is left;
- :mod:`.local_engine` and :mod:`.ray_engine`: the executors; :mod:`.run`: ``run_auto`` ties them together;
- :mod:`.index`: the results index that later stages read.

Ray is imported only by the Ray engine (the ``scale`` extra).
"""

from segany.auto.boxes import read_boxes
from segany.auto.index import INDEX_FILE, IndexRow, export_coco, iter_results, read_index
from segany.auto.manifest import ImageEntry, ManifestError, Shard, make_shards, read_manifest
from segany.auto.model_source import ModelSource
from segany.auto.run import ENGINES, RunSummary, run_auto
from segany.auto.settings import OUTPUT_FORMATS, RunSettings, model_fingerprint
from segany.auto.store import RunMismatchError
from segany.auto.work import ImageWorker

__all__ = [
    "ENGINES",
    "INDEX_FILE",
    "OUTPUT_FORMATS",
    "ImageEntry",
    "ImageWorker",
    "IndexRow",
    "ManifestError",
    "ModelSource",
    "RunMismatchError",
    "RunSettings",
    "RunSummary",
    "Shard",
    "export_coco",
    "iter_results",
    "make_shards",
    "model_fingerprint",
    "read_boxes",
    "read_index",
    "read_manifest",
    "run_auto",
]
