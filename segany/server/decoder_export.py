"""The decoders for browser decoding, exported once per model fingerprint and kept on disk
(`<cache>/onnx/<fingerprint>/`), each by `segany.onnx`:

- `decoder.onnx`: the official contract (`export_decoder(upscale=True)`), all 4 mask tokens (token 0, the
  single-mask output, then the 3 multimask candidates), `masks` upscaled to `orig_im_size` in the graph;
- `decoder_lowres.onnx`: the same without the upscaling (`low_res_masks` only, any prompt incl. mask input);
- the cached pair (`export_cached_decoder`): `decoder_prep.onnx` once per image, then a cheap per-prompt
  graph, `decoder_dense.gelu-tanh.onnx` or `decoder_lowrank.gelu-tanh.onnx` (whichever form is faster for this
  decoder). Only the browser runs it, so it is exported for onnxruntime-web: the upscaling's GELUs in their
  tanh form (WebAssembly's erf GELU is slow) as opset-20 `Gelu` nodes. The name says so: a cache written
  before this form existed is not served as if it were this one.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

from segany.modeling.sam import Sam

DECODER_FILE = "decoder.onnx"
LOWRES_FILE = "decoder_lowres.onnx"
PREP_FILE = "decoder_prep.onnx"
CACHED_GELU = "tanh"  # the per-prompt graph's GELU form (segany.onnx.cached_export.GELU_FORMS)
CACHED_OPSET = 20  # the first opset where the tanh GELU is one node
MASK_TOKENS = 4
LOGGER = logging.getLogger("segany.server")


class DecoderExport:
    def __init__(self, sam: Sam, folder: Path) -> None:
        self.sam = sam
        self.folder = folder
        self.path = folder / DECODER_FILE
        self._lock = threading.Lock()

    def files(self) -> dict[str, str]:
        """Role -> file name of every decoder this model gets (`decoder_cached`: the per-prompt graph)."""
        from segany.onnx.dense_decoder import prefers_dense_decoder

        form = "decoder_dense" if prefers_dense_decoder(self.sam) else "decoder_lowrank"
        cached = f"{form}.gelu-{CACHED_GELU}.onnx"
        return {"decoder": DECODER_FILE, "decoder_lowres": LOWRES_FILE, "decoder_prep": PREP_FILE,
                "decoder_cached": cached}  # fmt: skip

    def ensure(self, name: str = DECODER_FILE) -> Path:
        """The exported file `name` (one of `files()`), exporting it first when missing (one export at a time).

        Raises:
            KeyError: `name` is not one of this model's decoder files.
            ImportError: the `onnx` package is missing (install segany[server]).
        """
        if name not in self.files().values():
            raise KeyError(name)
        target = self.folder / name
        with self._lock:
            if not target.is_file():
                self._export(name)
            return target

    def _export(self, name: str) -> None:
        from segany.onnx.cached_export import export_cached_decoder
        from segany.onnx.export import export_decoder

        self.folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.folder, prefix=".export-") as staging:
            stage = Path(staging)
            if name == DECODER_FILE:
                export_decoder(self.sam, stage / name, return_single_mask=False, upscale=True)
            elif name == LOWRES_FILE:
                export_decoder(self.sam, stage / name, return_single_mask=False, upscale=False)
            else:  # the cached pair, exported together so that the two always match
                _, _, graph = export_cached_decoder(self.sam, stage, CACHED_OPSET, gelu=CACHED_GELU)
                graph.rename(stage / self.files()["decoder_cached"])
            for produced in stage.iterdir():
                if produced.suffix == ".onnx":
                    os.replace(produced, self.folder / produced.name)
            shutil.rmtree(stage, ignore_errors=True)

    def start_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self._all_quietly, name="segany-decoder-export", daemon=True)
        thread.start()
        return thread

    def _all_quietly(self) -> None:
        for name in self.files().values():
            try:
                self.ensure(name)
            except Exception as exc:  # noqa: BLE001 - the request that needs it reports the reason again
                LOGGER.warning("decoder export %s failed: %s", name, exc)
                return
