"""Export a SAM to ONNX: `encoder.onnx`, `decoder.onnx` (official contract), `decoder_lowres.onnx`, metadata.

    from segany.onnx import export_onnx
    result = export_onnx("vit_b", "exports/vit_b", checkpoint="sam_vit_b_01ec64.pth", quantize="int8")
    print(result.verification)   # ONNX Runtime vs torch, max differences on a photo

The file layout and the input/output contract are documented in `segany.onnx.contract`. Exports use the
TorchScript exporter (`dynamo=False`): torch's dynamo exporter cannot export SAM's decoder.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from segany import __version__
from segany.modeling.sam import Sam
from segany.onnx.cached_export import (
    DECODER_FORMS,
    export_cached_decoder,
    export_dense_decoder,
    export_low_rank_decoder,
)
from segany.onnx.contract import (
    CACHED_PAIR_ROLES,
    CONTRACT_TEXT,
    DECODER_FILE,
    DECODER_INPUTS,
    DECODER_LOWRES_FILE,
    DECODER_LOWRES_INPUTS,
    DECODER_LOWRES_OUTPUTS,
    DECODER_OUTPUTS,
    DECODER_PREP_ROLE,
    ENCODER_FILE,
    ENCODER_INPUTS,
    ENCODER_OUTPUTS,
    ExportMetadata,
    int8_name,
)
from segany.onnx.model_source import load_model
from segany.onnx.quantize import QUANTIZATION_SCHEMES, quantize_int8
from segany.onnx.tracing import DEFAULT_OPSET, EXAMPLE_POINTS, torch_export
from segany.onnx.wrappers import ImageEncoderGraph, PromptDecoderGraph

# Protobuf cannot serialise 2 GiB; stay clear of it (the graph itself adds a little to the weights).
EXTERNAL_DATA_THRESHOLD = int(1.8 * 2**30)


@dataclass
class ExportResult:
    out_dir: Path
    files: dict[str, Path]  # role ("encoder", "decoder", "decoder_lowres", "encoder_int8", ...) -> path
    metadata: ExportMetadata
    verification: dict[str, float] = field(default_factory=dict)


def export_onnx(
    model: Sam | str | Path,
    out_dir: str | Path,
    opset: int = DEFAULT_OPSET,
    quantize: str | None = None,
    *,
    checkpoint: str | Path | None = None,
    model_name: str | None = None,
    return_single_mask: bool = False,
    include_encoder: bool = True,
    external_data: bool | None = None,
    verify: bool = True,
    verify_image: np.ndarray | str | Path | None = None,
    decoder_form: str = "auto",
) -> ExportResult:
    """Export `model` to ONNX files in `out_dir` (see `segany.onnx.contract` for the contract).

    Args:
        model: a built `Sam`, a registry name (with `checkpoint` for real weights) or a checkpoint path.
        quantize: None or "int8": also write `*.int8.onnx` dynamically quantized copies.
        model_name: recorded in metadata.json (default: the registry name, or "custom" for a `Sam`).
        return_single_mask: `decoder.onnx` outputs one mask (official semantics, see the contract);
            `decoder_lowres.onnx`, which `OnnxPredictor` uses, always keeps all 4.
        include_encoder: False exports the decoders only (e.g. to pair with embeddings made in torch).
        external_data: store encoder weights in `encoder.onnx.data`; None decides by size (over ~1.8 GiB).
        verify: run ONNX Runtime against torch on `verify_image` (a photo path or H x W x 3 uint8 array;
            None uses a synthetic image) and record the max differences in the result and metadata.json
            (skipped when the encoder is not exported).
        decoder_form: form of the cached per-prompt decoder, "lowrank", "dense" or "auto" (the one expected
            to be faster for this decoder; see `export_cached_decoder`).
    """
    if quantize not in (None, *QUANTIZATION_SCHEMES):
        raise ValueError(f"quantize must be None or one of {QUANTIZATION_SCHEMES}, got {quantize!r}")
    if decoder_form not in DECODER_FORMS:
        raise ValueError(f"decoder_form must be one of {DECODER_FORMS}, got {decoder_form!r}")
    if isinstance(model, Sam):
        if checkpoint is not None:
            raise ValueError("checkpoint applies to a registry name, not to a built Sam")
        sam, name = model, model_name or "custom"
    else:
        sam, name = load_model(model, checkpoint)
        name = model_name or name
    sam.eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    files: dict[str, Path] = {}
    if include_encoder:
        files["encoder"] = export_encoder(sam, out / ENCODER_FILE, opset, external_data)
    files["decoder"] = export_decoder(sam, out / DECODER_FILE, opset, return_single_mask, upscale=True)
    files["decoder_lowres"] = export_decoder(sam, out / DECODER_LOWRES_FILE, opset, False, upscale=False)
    role, files[DECODER_PREP_ROLE], cached = export_cached_decoder(sam, out, opset, decoder_form)
    files[role] = cached
    if quantize == "int8":
        for role in [role for role in files if role not in CACHED_PAIR_ROLES]:
            source = files[role]
            files[f"{role}_int8"] = quantize_int8(
                source, out / int8_name(source.name), external_data=_has_external_data(source)
            )

    grid_h, grid_w = sam.prompt_encoder.image_embedding_size
    embedding_shape = (1, int(sam.prompt_encoder.embed_dim), int(grid_h), int(grid_w))
    metadata = ExportMetadata(
        model=name,
        image_size=sam.image_size,
        embedding_shape=embedding_shape,
        opset=opset,
        quantization=quantize,
        return_single_mask=return_single_mask,
        files={role: path.name for role, path in files.items() if not role.endswith("_int8")},
        contract={role: text for role, text in CONTRACT_TEXT.items() if role in files},
        mask_threshold=float(sam.mask_threshold),
        segany_version=__version__,
    )
    metadata.save(out)
    result = ExportResult(out, files, metadata)
    if verify and include_encoder:
        from segany.onnx.verify import verify_export

        result.verification = verify_export(out, sam, verify_image, quantized=quantize is not None)
        metadata.verification = result.verification
        metadata.save(out)
    return result


def export_encoder(
    sam: Sam, path: str | Path, opset: int = DEFAULT_OPSET, external_data: bool | None = None
) -> Path:
    """`encoder.onnx`: h x w x 3 float RGB (0..255, longest side = S) -> 1 x 256 x 64 x 64."""
    path = Path(path)
    size = sam.image_size
    dummy = torch.randint(0, 256, (size, size * 3 // 4, 3)).float()  # non-square: both sides stay dynamic
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as tmp:
        staged = Path(tmp) / path.name
        torch_export(
            ImageEncoderGraph(sam),
            (dummy,),
            staged,
            opset,
            ENCODER_INPUTS,
            ENCODER_OUTPUTS,
            {"input_image": {0: "height", 1: "width"}},
        )
        grid_h, grid_w = sam.prompt_encoder.image_embedding_size
        _declare_output_shape(staged, (1, sam.prompt_encoder.embed_dim, grid_h, grid_w))
        _place(staged, path, external_data)
    return path


def _declare_output_shape(path: Path, shape: tuple[int, ...]) -> None:
    """Write the (static) embedding shape into the graph output, which the exporter leaves symbolic."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    for dim, value in zip(dims, shape):
        dim.Clear()
        dim.dim_value = value
    onnx.save_model(proto, str(path))


def export_decoder(
    sam: Sam,
    path: str | Path,
    opset: int = DEFAULT_OPSET,
    return_single_mask: bool = False,
    upscale: bool = True,
) -> Path:
    """`decoder.onnx` (official contract; `upscale=True`) or `decoder_lowres.onnx` (`upscale=False`)."""
    path = Path(path)
    grid_h, grid_w = sam.prompt_encoder.image_embedding_size
    low_h, low_w = sam.prompt_encoder.mask_input_size
    generator = torch.Generator().manual_seed(0)
    args: tuple[torch.Tensor, ...] = (
        torch.randn(1, sam.prompt_encoder.embed_dim, grid_h, grid_w, generator=generator),
        torch.rand(1, EXAMPLE_POINTS, 2, generator=generator) * sam.image_size,
        torch.tensor([[1.0, 0.0, -1.0]]),
        torch.randn(1, 1, low_h, low_w, generator=generator),
        torch.ones(1),
    )
    dynamic_axes = {"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}}
    input_names: tuple[str, ...] = DECODER_LOWRES_INPUTS
    output_names: tuple[str, ...] = DECODER_LOWRES_OUTPUTS
    if upscale:
        args = (*args, torch.tensor([768.0, 1024.0]))
        dynamic_axes["masks"] = {2: "height", 3: "width"}
        input_names, output_names = DECODER_INPUTS, DECODER_OUTPUTS
    graph = PromptDecoderGraph(sam, return_single_mask=return_single_mask, upscale=upscale)
    torch_export(graph, args, path, opset, input_names, output_names, dynamic_axes)
    return path


def _has_external_data(path: Path) -> bool:
    return path.with_name(path.name + ".data").is_file()


def _place(staged: Path, target: Path, external_data: bool | None) -> None:
    """Move an exported model into place; with external data its weights go to one `<name>.data` file."""
    import onnx

    total = sum(f.stat().st_size for f in staged.parent.iterdir() if f.is_file())
    if external_data is None:
        external_data = total > EXTERNAL_DATA_THRESHOLD
    data_path = target.with_name(target.name + ".data")
    data_path.unlink(missing_ok=True)  # onnx appends to an existing data file
    single_file = [f.name for f in staged.parent.iterdir()] == [staged.name]
    if not external_data and single_file:
        shutil.move(str(staged), str(target))
    else:
        # Large torch exports come out as one file per tensor; gather them (or inline them) here.
        proto = onnx.load(str(staged), load_external_data=True)
        onnx.save_model(
            proto,
            str(target),
            save_as_external_data=external_data,
            all_tensors_to_one_file=True,
            location=data_path.name,
            size_threshold=1024,
        )
    onnx.checker.check_model(str(target))


# ---------------------------------------------------------------- command line
def add_export_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `segany export onnx` (defaults None: the library owns the defaults)."""
    parser.add_argument(
        "--model", required=True, help="registry name (vit_b, vit_l, vit_h) or a checkpoint path"
    )
    parser.add_argument("--checkpoint", default=None, help="weights for a registry --model (default: random)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--quantize", choices=QUANTIZATION_SCHEMES, default=None, help="also write int8 models"
    )
    parser.add_argument("--opset", type=int, default=None, help=f"ONNX opset (default {DEFAULT_OPSET})")
    parser.add_argument(
        "--return-single-mask",
        action="store_true",
        default=None,
        help="decoder.onnx outputs the best mask only",
    )
    parser.add_argument("--no-encoder", action="store_true", default=None, help="export the decoders only")
    parser.add_argument("--no-verify", action="store_true", default=None, help="skip the ORT-vs-torch check")
    parser.add_argument("--verify-image", default=None, help="photo for the ORT-vs-torch check")
    parser.add_argument(
        "--decoder-form",
        choices=DECODER_FORMS,
        default=None,
        help="form of the cached per-prompt decoder (default auto: the faster one for this model)",
    )
    return parser


def main_export(args: argparse.Namespace) -> int:
    """Run `segany export onnx` from parsed arguments (see `add_export_arguments`); returns the exit code."""
    result = export_onnx(
        args.model,
        args.out,
        opset=getattr(args, "opset", None) or DEFAULT_OPSET,
        quantize=getattr(args, "quantize", None),
        checkpoint=getattr(args, "checkpoint", None),
        return_single_mask=bool(getattr(args, "return_single_mask", None)),
        include_encoder=not getattr(args, "no_encoder", None),
        verify=not getattr(args, "no_verify", None),
        verify_image=getattr(args, "verify_image", None),
        decoder_form=getattr(args, "decoder_form", None) or "auto",
    )
    print(f"exported {result.metadata.model} to {result.out_dir}:")
    for role, path in result.files.items():
        print(f"  {role:<20} {path.name:<28} {_size_text(path)}")
    if result.verification:
        print("ONNX Runtime vs torch:")
        for key, value in result.verification.items():
            print(f"  {key:<40} {value:.6g}")
    return 0


def _size_text(path: Path) -> str:
    total = path.stat().st_size + (
        path.with_name(path.name + ".data").stat().st_size if _has_external_data(path) else 0
    )
    return f"{total / 2**20:.1f} MiB"


__all__ = [
    "DEFAULT_OPSET",
    "ExportResult",
    "add_export_arguments",
    "export_cached_decoder",
    "export_decoder",
    "export_dense_decoder",
    "export_encoder",
    "export_low_rank_decoder",
    "export_onnx",
    "main_export",
]


def main(argv: list[str] | None = None) -> int:
    parser = add_export_arguments(
        argparse.ArgumentParser(prog="python -m segany.onnx.export", description=__doc__)
    )
    return main_export(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
