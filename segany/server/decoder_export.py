"""The decoder for browser decoding: `segany.onnx.export_decoder`'s official-contract graph, exported once
per model fingerprint and kept on disk (`<cache>/onnx/<fingerprint>/decoder.onnx`).

The graph returns all 4 mask tokens (token 0, the single-mask output, then the 3 multimask candidates),
with `masks` upscaled to `orig_im_size` inside the graph.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from segany.modeling.sam import Sam

DECODER_FILE = "decoder.onnx"
MASK_TOKENS = 4
LOGGER = logging.getLogger("segany.server")


class DecoderExport:
    def __init__(self, sam: Sam, folder: Path) -> None:
        self.sam = sam
        self.path = folder / DECODER_FILE
        self._lock = threading.Lock()

    def ensure(self) -> Path:
        """The exported file, exporting it first when missing (one export at a time).

        Raises:
            ImportError: the `onnx` package is missing (install segany[server]).
        """
        with self._lock:
            if not self.path.is_file():
                from segany.onnx.export import export_decoder

                self.path.parent.mkdir(parents=True, exist_ok=True)
                temporary = self.path.with_name(f".{DECODER_FILE}.{os.getpid()}.tmp")
                export_decoder(self.sam, temporary, return_single_mask=False, upscale=True)
                os.replace(temporary, self.path)
            return self.path

    def start_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self._quietly, name="segany-decoder-export", daemon=True)
        thread.start()
        return thread

    def _quietly(self) -> None:
        try:
            self.ensure()
        except Exception as exc:  # noqa: BLE001 - the request that needs it reports the reason again
            LOGGER.warning("decoder export failed: %s", exc)
