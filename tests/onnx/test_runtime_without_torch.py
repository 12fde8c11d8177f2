"""OnnxPredictor runs in a process where `import torch` fails (and, in one variant, `import cv2` too).

The child process blocks the modules before importing anything, runs the predictor on the photo and on an
embedding file saved by the torch predictor, and writes its outputs; the parent compares them with torch.
Any import of torch in the child -- by segany, segany.onnx or a dependency -- makes the test fail.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from onnx_testing import FIXTURES_DIR, PHOTO, mask_agreement, max_abs_diff

from segany.predictor import SamPredictor

REPO_ROOT = Path(__file__).resolve().parents[2]
POINT = np.array([[400.0, 260.0]])
BOX = np.array([120.0, 90.0, 610.0, 480.0])

CHILD = textwrap.dedent(
    """
    import sys

    BLOCKED = set(sys.argv[4].split(","))

    class _Blocker:
        # Refuses the blocked top-level packages and all their submodules.
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"import of {name} is blocked in this test")
            return None

    for name in BLOCKED:
        sys.modules[name] = None  # `import name` raises ImportError even if something cached it
    sys.meta_path.insert(0, _Blocker())

    import numpy as np
    from PIL import Image

    from segany.onnx import OnnxPredictor
    from segany.geometry import _CV2

    model_dir, photo, embedding_file, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5]
    predictor = OnnxPredictor(model_dir)
    predictor.set_image(np.asarray(Image.open(photo).convert("RGB")))
    point = np.array([[400.0, 260.0]])
    masks, scores, logits = predictor.predict(point_coords=point, point_labels=np.array([1]))
    predictor.reset_image()
    predictor.load_image_embedding(embedding_file)
    box_masks, box_scores, box_logits = predictor.predict(box=np.array([120.0, 90.0, 610.0, 480.0]))
    loaded = sorted(m for m, mod in sys.modules.items() if m.split(".")[0] in BLOCKED and mod is not None)
    assert not loaded, f"blocked modules were imported: {loaded}"
    assert ("cv2" in BLOCKED) == (_CV2 is None)
    np.savez(out, masks=masks, scores=scores, logits=logits, embedding=predictor.get_image_embedding(),
             box_masks=box_masks, box_scores=box_scores, box_logits=box_logits)
    print("segany modules:", sorted(m for m in sys.modules if m.startswith("segany")))
    """
)


@pytest.mark.parametrize("blocked", ["torch", "torch,cv2"], ids=["no_torch", "no_torch_no_cv2"])
def test_onnx_predictor_without_torch(
    blocked: str, export_dir: Path, torch_predictor: SamPredictor, tmp_path: Path
) -> None:
    embedding_file = torch_predictor.save_image_embedding(tmp_path / "dog.npz", model_name="vit_tiny")
    out = tmp_path / "child.npz"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(export_dir),
            str(FIXTURES_DIR / PHOTO),
            str(embedding_file),
            blocked,
            str(out),
        ],
        cwd=REPO_ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "", "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, f"child failed:\n{result.stdout}\n{result.stderr}"
    child = np.load(out)

    masks, scores, logits = torch_predictor.predict(point_coords=POINT, point_labels=np.array([1]))
    assert max_abs_diff(child["logits"], logits) <= 1e-3
    assert max_abs_diff(child["scores"], scores) <= 1e-4
    assert min(mask_agreement(a, b) for a, b in zip(child["masks"], masks)) >= 0.999

    box_masks, _, box_logits = torch_predictor.predict(box=BOX)
    assert max_abs_diff(child["box_logits"], box_logits) <= 1e-3
    assert min(mask_agreement(a, b) for a, b in zip(child["box_masks"], box_masks)) >= 0.999
    np.testing.assert_array_equal(child["embedding"], torch_predictor.get_image_embedding().cpu().numpy())
